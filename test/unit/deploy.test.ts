// deploy/ cannot run here (no Docker engine, no base images to pull, no cluster, no Triton);
// check what can be checked without them: the Dockerfiles lint clean (dockerfile-utils, the
// validator of VS Code's Docker support), the Kubernetes manifests validate against the
// Kubernetes OpenAPI schemas (kubernetes-models), the files point at each other, keep to the
// security rules below, and agree with the model contract.
import { readFileSync } from 'node:fs';
import { validate as lintDockerfile } from 'dockerfile-utils';
import * as ort from 'onnxruntime-node';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { INPUTS, OUTPUTS } from '../../src/inference/model-contract.js';

describe('deploy/compose.yaml', () => {
  const compose = parse(readFileSync('deploy/compose.yaml', 'utf8'));

  it('runs postgres, the migrations, the worker, the API and the jobs, in that order', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'jobs', 'migrate', 'postgres', 'worker']);
    expect(compose.services.jobs.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' }, worker: { condition: 'service_healthy' } });
    expect(compose.services.migrate.depends_on.postgres.condition).toBe('service_healthy');
    expect(compose.services.api.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' }, worker: { condition: 'service_healthy' } });
  });

  it('connects the API as the role row-level security applies to, to the worker by service name', () => {
    expect(compose.services.api.environment.DATABASE_URL).toMatch(/^postgres:\/\/tastegraph_app:/);
    expect(compose.services.migrate.environment.DATABASE_ADMIN_URL).toMatch(/^postgres:\/\/postgres:/);
    expect(compose.services.api.environment.WORKER_URLS).toBe('http://worker:8000');
    expect(compose.services.worker.deploy.resources.reservations.devices[0].capabilities).toEqual(['gpu']);
  });

  it("shares the tenants' model store: the jobs write it, the workers read it, the API writes its config on a rollback", () => {
    const mounts = (service: string) => compose.services[service].volumes as string[];
    expect(mounts('jobs')).toEqual(['models:/var/lib/tastegraph/models']);
    expect(mounts('worker')).toEqual(['models:/var/lib/tastegraph/models:ro']);
    expect(mounts('api')).toEqual(['models:/var/lib/tastegraph/models']);
    for (const service of ['api', 'worker']) expect(compose.services[service].environment.TENANT_MODEL_STORE).toBe('/var/lib/tastegraph/models');
    expect(compose.services.jobs.environment.DATABASE_URL).toMatch(/^postgres:\/\/tastegraph_app:/);
    expect(compose.services.jobs.environment.DATABASE_ADMIN_URL).toBeUndefined();
    expect(Object.keys(compose.volumes)).toContain('models');
  });

  it('builds from Dockerfiles that exist and start the compiled entry points', () => {
    const api = readFileSync(compose.services.api.build.dockerfile, 'utf8');
    expect(api).toMatch(/CMD \["node", "--enable-source-maps", "dist\/apps\/api.js"\]/);
    expect(api).toMatch(/ENV NODE_ENV=production/);
    // The admin dashboard at /admin is files the API serves (src/http/admin-pages.ts).
    expect(api).toMatch(/COPY web \.\/web/);
    const jobs = readFileSync(compose.services.jobs.build.dockerfile, 'utf8');
    expect(jobs).toMatch(/python3-torch python3-onnx python3-numpy libopenblas0-pthread/);
    expect(jobs).toMatch(/COPY trainer \.\/trainer/);
    expect(jobs).toMatch(/CMD \["node", "--enable-source-maps", "dist\/apps\/jobs.js"\]/);
    const worker = readFileSync(compose.services.worker.build.dockerfile, 'utf8');
    expect(worker).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(worker).toMatch(/CMD \["node", "--enable-source-maps", "dist\/apps\/worker.js"\]/);
    expect(compose.services.migrate.command).toEqual(['node', '--enable-source-maps', 'dist/apps/migrate.js']);
  });

  it("gives the owner's URL to the migrations only, and publishes ports on 127.0.0.1 unless told otherwise", () => {
    expect(compose.services.api.environment.DATABASE_ADMIN_URL).toBeUndefined();
    for (const service of ['api', 'worker']) {
      for (const port of compose.services[service].ports as string[]) expect(port).toMatch(/^\$\{BIND_ADDRESS:-127\.0\.0\.1\}:\d+:\d+$/);
    }
    for (const service of Object.keys(compose.services).filter((s) => !['api', 'worker'].includes(s))) expect(compose.services[service].ports).toBeUndefined();
  });
});

describe('deploy/*.Dockerfile', () => {
  const files = ['api', 'worker', 'jobs'].map((name) => `deploy/${name}.Dockerfile`);

  it.each(files)('%s lints clean', (file) => {
    const problems = lintDockerfile(readFileSync(file, 'utf8')).map((d) => `line ${d.range.start.line + 1}: ${JSON.stringify(d.message)}`);
    expect(problems).toEqual([]);
  });

  it('the linter catches a broken Dockerfile (so a clean result means something)', () => {
    expect(lintDockerfile('FROM node:20\nUSR node\n').map((d) => d.message)).toEqual(['Unknown instruction: USR']);
  });

  it.each(files)('%s compiles in a build stage, runs compiled JavaScript as a numeric non-root user that exists', (file) => {
    const text = readFileSync(file, 'utf8');
    const stages = [...text.matchAll(/^FROM (\S+)(?: AS (\w+))?$/gm)];
    expect(stages.map(([, , name]) => name)).toEqual(['build', undefined]);
    for (const [, image] of stages) expect(image, 'base images are pinned to a minor version').toMatch(/:\d+\.\d+/);
    expect(text).toMatch(/^RUN npm run build$/m);
    expect(text).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(text).not.toMatch(/tsx/);
    // Kubernetes' runAsNonRoot can only verify a numeric user.
    expect(text).toMatch(/^USER 1000:1000$/m);
    const runtimeBase = stages[1][1];
    // node images have uid 1000 (`node`); any other base must create it.
    if (!runtimeBase.startsWith('node:')) expect(text).toMatch(/useradd --uid 1000/);
  });
});

describe('deploy/kubernetes', () => {
  const docs = (file: string) => parseAllDocuments(readFileSync(`deploy/kubernetes/${file}`, 'utf8')).map((d) => d.toJS());
  const FILES = ['api.yaml', 'worker.yaml', 'jobs.yaml', 'migrate.yaml'];
  const all = () => FILES.flatMap((file) => docs(file).map((doc) => ({ file, doc })));
  const pods = () =>
    all()
      .filter(({ doc }) => doc.spec?.template?.spec)
      .map(({ file, doc }) => ({ file, name: doc.metadata.name as string, pod: doc.spec.template.spec }));
  const version = JSON.parse(readFileSync('package.json', 'utf8')).version as string;

  it('every manifest validates against the Kubernetes OpenAPI schema of its kind', async () => {
    const problems: string[] = [];
    for (const { file, doc } of all()) {
      const module = doc.apiVersion === 'v1' ? 'v1' : doc.apiVersion;
      const models = (await import(`kubernetes-models/${module}`)) as Record<string, new (data: unknown) => { validate(): void }>;
      const Kind = models[doc.kind];
      if (!Kind) {
        problems.push(`${file}: no schema for ${doc.apiVersion} ${doc.kind}`);
        continue;
      }
      try {
        new Kind(doc).validate();
      } catch (error) {
        problems.push(`${file} ${doc.kind}: ${(error as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the schema check catches a wrong type (so a clean result means something)', async () => {
    const { Deployment } = await import('kubernetes-models/apps/v1');
    const [deployment] = docs('api.yaml');
    deployment.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = 'yes';
    expect(() => new Deployment(deployment).validate()).toThrow(/readOnlyRootFilesystem must be boolean/);
  });

  it('pins every image to the release version, runs it non-root on a read-only root, without privilege escalation', () => {
    for (const { file, pod } of pods()) {
      expect(pod.securityContext, file).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      for (const container of pod.containers) {
        expect(container.image, file).toMatch(new RegExp(`^tastegraph-(api|worker|jobs):${version.replaceAll('.', '\\.')}$`));
        expect(container.securityContext, file).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      }
    }
  });

  it('long-running pods have startup, readiness and liveness probes; API and workers have disruption budgets', () => {
    for (const { file, pod } of pods().filter(({ file }) => file !== 'migrate.yaml')) {
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(pod.containers[0][probe], `${file} ${probe}`).toBeDefined();
    }
    const budgets = all().filter(({ doc }) => doc.kind === 'PodDisruptionBudget');
    expect(budgets.map(({ doc }) => doc.metadata.name).sort()).toEqual(['tastegraph-api', 'tastegraph-worker']);
    for (const { doc } of budgets) {
      const target = all().find(({ doc: d }) => d.kind === 'Deployment' && d.metadata.name === doc.metadata.name)!.doc;
      expect(doc.spec.selector.matchLabels).toEqual(target.spec.selector.matchLabels);
    }
  });

  it("only the migration Job holds the owner's URL; it runs the compiled migrator from the API image", () => {
    for (const { file, pod } of pods()) {
      const names = pod.containers.flatMap((c: { env?: { name: string }[] }) => (c.env ?? []).map((e) => e.name));
      expect(names.includes('DATABASE_ADMIN_URL'), file).toBe(file === 'migrate.yaml');
    }
    const [job] = docs('migrate.yaml');
    expect(job.kind).toBe('Job');
    expect(job.metadata.name).toBe(`tastegraph-migrate-${version.replaceAll('.', '-')}`);
    expect(job.spec.template.spec.containers[0].command).toEqual(['node', '--enable-source-maps', 'dist/apps/migrate.js']);
  });

  it('gives the API more memory than its item-index budget, with at least 512 MiB for the process', () => {
    const [deployment] = docs('api.yaml');
    const container = deployment.spec.template.spec.containers[0];
    const env = Object.fromEntries(container.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    const mib = (quantity: string) => {
      const [, n, unit] = /^(\d+)(Mi|Gi)$/.exec(quantity)!;
      return Number(n) * (unit === 'Gi' ? 1024 : 1);
    };
    const budget = Number(env.FEED_INDEX_MAX_MB ?? loadConfig({}).feed.indexBudgetBytes / 2 ** 20);
    expect(mib(container.resources.limits.memory) - budget).toBeGreaterThanOrEqual(512);
  });

  it('api: Deployment, Service and HPA that target each other', () => {
    const [deployment, service, hpa] = docs('api.yaml');
    expect([deployment.kind, service.kind, hpa.kind]).toEqual(['Deployment', 'Service', 'HorizontalPodAutoscaler']);
    expect([deployment.apiVersion, service.apiVersion, hpa.apiVersion]).toEqual(['apps/v1', 'v1', 'autoscaling/v2']);
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    const env = Object.fromEntries(deployment.spec.template.spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect(env.WORKER_URLS).toBe('http://tastegraph-worker:8000');
  });

  it('jobs: one Deployment on the shared model store, which every process that needs it mounts', () => {
    const [claim, deployment] = docs('jobs.yaml');
    expect([claim.kind, deployment.kind]).toEqual(['PersistentVolumeClaim', 'Deployment']);
    expect(claim.spec.accessModes).toEqual(['ReadWriteMany']);
    const pod = deployment.spec.template.spec;
    expect(pod.containers[0].readinessProbe.httpGet.path).toBe('/health/ready');
    for (const spec of [pod, docs('api.yaml')[0].spec.template.spec, docs('worker.yaml')[0].spec.template.spec]) {
      expect(spec.volumes[0]).toEqual({ name: 'models', persistentVolumeClaim: { claimName: claim.metadata.name } });
      const env = Object.fromEntries(spec.containers[0].env.map((e: { name: string; value?: string }) => [e.name, e.value]));
      expect(env.TENANT_MODEL_STORE).toBe(spec.containers[0].volumeMounts[0].mountPath);
    }
  });

  it('worker: a Deployment requesting nvidia.com/gpu, and its Service', () => {
    const [deployment, service] = docs('worker.yaml');
    expect(deployment.kind).toBe('Deployment');
    const container = deployment.spec.template.spec.containers[0];
    expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(container.readinessProbe.httpGet.path).toBe('/v2/health/ready');
    expect(service.metadata.name).toBe('tastegraph-worker');
    expect(service.spec.ports[0].port).toBe(8000);
  });
});

describe('Triton model repository (models/preference/config.pbtxt)', () => {
  const config = readFileSync('models/preference/config.pbtxt', 'utf8');
  const tensors = (block: 'input' | 'output') => {
    const body = new RegExp(`^${block} \\[([\\s\\S]*?)^\\]`, 'm').exec(config)![1];
    return [...body.matchAll(/name: "(\w+)"\s+data_type: (\w+)\s+dims: \[([^\]]*)\]/g)].map(([, name, type, dims]) => ({
      name,
      type,
      dims: dims.split(',').map((d) => Number(d.trim())),
    }));
  };
  const TRITON_TYPES: Record<string, string> = { float32: 'TYPE_FP32', int64: 'TYPE_INT64', bool: 'TYPE_BOOL' };

  it('names the contract tensors with their types, without the batch dimension', () => {
    expect(config).toMatch(/^name: "preference"$/m);
    expect(config).toMatch(/^backend: "onnxruntime"$/m);
    expect(tensors('input').map((t) => [t.name, t.type, t.dims.length + 1])).toEqual(INPUTS.map((i) => [i.name, TRITON_TYPES[i.type], i.rank]));
    expect(tensors('output').map((t) => [t.name, t.type, t.dims.length + 1])).toEqual(OUTPUTS.map((o) => [o.name, TRITON_TYPES[o.type], o.rank]));
  });

  it('batches dynamically, and its fixed dimensions match the shipped model', async () => {
    expect(config).toMatch(/dynamic_batching \{[\s\S]*max_queue_delay_microseconds: \d+/);
    expect(Number(/max_batch_size: (\d+)/.exec(config)![1])).toBeGreaterThan(1);
    const session = await ort.InferenceSession.create('models/preference/1/model.onnx');
    try {
      const history = session.inputMetadata[0] as ort.InferenceSession.TensorValueMetadata;
      const user = session.outputMetadata[1] as ort.InferenceSession.TensorValueMetadata;
      expect(tensors('input')[0].dims[1]).toBe(history.shape[2]);
      expect(tensors('input')[3].dims[1]).toBe(history.shape[2]);
      expect(tensors('output')[1].dims[0]).toBe(user.shape[1]);
    } finally {
      await session.release();
    }
  });

  it('keeps as many versions loaded as the worker does by default', () => {
    const kept = /version_policy: \{ latest: \{ num_versions: (\d+) \} \}/.exec(config);
    expect(Number(kept?.[1])).toBe(loadConfig({}).worker.versionsKept);
  });
});

describe('dist/ (what the images run, npm run build)', () => {
  it('imports nothing but production dependencies and Node built-ins (the images install no dev dependencies)', async () => {
    const { builtinModules } = await import('node:module');
    const { readdirSync } = await import('node:fs');
    const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const files = (readdirSync('dist', { recursive: true }) as string[]).filter((f) => /\.m?js$/.test(f));
    expect(files).toContain('apps/api.js');
    const wrong = new Set<string>();
    for (const file of files) {
      const text = readFileSync(`dist/${file}`, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from |import\()\s*['"]([^'"]+)['"]/g)) {
        if (specifier.startsWith('.') || specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        if (!(name in dependencies)) wrong.add(`${file} imports ${specifier}`);
      }
    }
    expect([...wrong]).toEqual([]);
  });
});
