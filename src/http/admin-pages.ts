// The admin dashboard's static files (web/admin) at /admin. The pages talk to /graphql like
// any client, with the admin key the person pastes; nothing here reads the key or the data.
// Everything is served from this origin (no CDN: it works offline), under a policy that runs
// only this origin's scripts and lets item thumbnails come from wherever the tenant keeps them.
import express, { type RequestHandler } from 'express';

export const ADMIN_DIR = new URL('../../web/admin/', import.meta.url).pathname;

const POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  // Tenants' images (item urls) live on their own hosts.
  "img-src 'self' data: https: http:",
  // Charts set colours in style attributes; no stylesheet comes from elsewhere.
  "style-src 'self' 'unsafe-inline'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export function adminPages(dir = ADMIN_DIR): RequestHandler[] {
  const headers: RequestHandler = (_req, res, next) => {
    res.setHeader('content-security-policy', POLICY);
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('cache-control', 'no-cache');
    next();
  };
  // /admin → /admin/ so that the page's relative links resolve inside it.
  const slash: RequestHandler = (req, res, next) => (req.originalUrl === '/admin' ? res.redirect(301, '/admin/') : next());
  return [slash, headers, express.static(dir, { index: 'index.html', fallthrough: true, dotfiles: 'deny' })];
}
