-- The API checks at start that every migration it knows has been applied, and refuses to
-- start otherwise (an unmigrated database had reported ready and failed every request). It
-- connects as tastegraph_app, which may read the list and nothing else of it.
GRANT SELECT ON "_prisma_migrations" TO tastegraph_app;
