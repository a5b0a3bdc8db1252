// deploy/ cannot run here (no Docker engine, no cluster, no Triton); check what can be checked
// without them: the files parse, point at each other, and agree with the model contract.
import { readFileSync } from 'node:fs';
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

  it('shares the tenants\' model store: the jobs write it, the workers read it, the API writes its config on a rollback', () => {
    const mounts = (service: string) => compose.services[service].volumes as string[];
    expect(mounts('jobs')).toEqual(['models:/var/lib/tastegraph/models']);
    expect(mounts('worker')).toEqual(['models:/var/lib/tastegraph/models:ro']);
    expect(mounts('api')).toEqual(['models:/var/lib/tastegraph/models']);
    for (const service of ['api', 'worker']) expect(compose.services[service].environment.TENANT_MODEL_STORE).toBe('/var/lib/tastegraph/models');
    expect(compose.services.jobs.environment.DATABASE_URL).toMatch(/^postgres:\/\/tastegraph_app:/);
    expect(compose.services.jobs.environment.DATABASE_ADMIN_URL).toBeUndefined();
    expect(Object.keys(compose.volumes)).toContain('models');
  });

  it('builds from Dockerfiles that exist and start the entry points', () => {
    const api = readFileSync(compose.services.api.build.dockerfile, 'utf8');
    expect(api).toMatch(/CMD \["node", "--import", "tsx", "src\/apps\/api.ts"\]/);
    expect(api).toMatch(/ENV NODE_ENV=production/);
    // The admin dashboard at /admin is files the API serves (src/http/admin-pages.ts).
    expect(api).toMatch(/COPY web \.\/web/);
    const jobs = readFileSync(compose.services.jobs.build.dockerfile, 'utf8');
    expect(jobs).toMatch(/python3-torch python3-onnx python3-numpy libopenblas0-pthread/);
    expect(jobs).toMatch(/COPY trainer \.\/trainer/);
    expect(jobs).toMatch(/CMD \["node", "--import", "tsx", "src\/apps\/jobs.ts"\]/);
    const worker = readFileSync(compose.services.worker.build.dockerfile, 'utf8');
    expect(worker).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(worker).toMatch(/CMD \["node", "--import", "tsx", "src\/apps\/worker.ts"\]/);
  });
});

describe('deploy/kubernetes', () => {
  const docs = (file: string) => parseAllDocuments(readFileSync(`deploy/kubernetes/${file}`, 'utf8')).map((d) => d.toJS());

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
      expect(spec.volumes).toEqual([{ name: 'models', persistentVolumeClaim: { claimName: claim.metadata.name } }]);
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
