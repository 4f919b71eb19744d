/**
 * deploy/kubernetes: every manifest of the base, the Redis component and the with-redis
 * overlay validates against the Kubernetes API schemas (kubernetes-models) with no unknown
 * field, the references between them hold (ports, labels, names, the config file path), the
 * ConfigMap's gateway.yaml is a valid config, and a gateway started from it answers the
 * probes' paths on the probes' ports.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Service } from 'kubernetes-models/v1/Service'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { applyEnvOverrides, validateConfig } from '../../src/config/load.ts'
import { ringFileBytes } from '../../src/policies/cache/ring.ts'
import { startGateway } from '../fixtures/gateway.ts'

const ROOT = join(import.meta.dir, '..', '..')
const DEPLOY = join(ROOT, 'deploy', 'kubernetes')
const MODELS = join(ROOT, 'node_modules', 'kubernetes-models')

type Resource = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [key: string]: any }

const MODEL: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
}

const parseDocuments = (text: string): any[] => {
  const parsed = Bun.YAML.parse(text)
  return Array.isArray(parsed) ? parsed : [parsed]
}
const readYaml = (path: string): any[] => parseDocuments(readFileSync(path, 'utf8'))

/** Merges `patch` into `target` the way a strategic merge patch does for these manifests: lists of named items by name. */
function mergePatch(target: any, patch: any): any {
  if (Array.isArray(target) && Array.isArray(patch)) {
    const out = [...target]
    for (const item of patch) {
      const i = out.findIndex((t) => t?.name !== undefined && t.name === item?.name)
      if (i >= 0) out[i] = mergePatch(out[i], item)
      else out.push(item)
    }
    return out
  }
  if (typeof target === 'object' && target && typeof patch === 'object' && patch && !Array.isArray(patch)) {
    const out = { ...target }
    for (const [key, value] of Object.entries(patch)) out[key] = key in out ? mergePatch(out[key], value) : value
    return out
  }
  return patch
}

/**
 * What `kustomize build dir` gives for these files (no kubectl needed): resources, then
 * components, whose patches apply to everything accumulated so far, then patches, labels, images.
 */
function build(dir: string, accumulated: Resource[] = []): Resource[] {
  const kustomization = readYaml(join(dir, 'kustomization.yaml'))[0]
  let resources: Resource[] = [...accumulated]
  for (const entry of kustomization.resources ?? []) {
    const path = join(dir, entry)
    resources.push(...(entry.endsWith('.yaml') ? readYaml(path) : build(path)))
  }
  for (const component of kustomization.components ?? []) {
    const componentDir = join(dir, component)
    const spec = readYaml(join(componentDir, 'kustomization.yaml'))[0]
    expect(spec.kind).toBe('Component')
    resources = build(componentDir, resources)
  }
  for (const patch of kustomization.patches ?? []) {
    const [body] = readYaml(join(dir, patch.path))
    const matches = resources.filter((r) => r.kind === patch.target.kind && r.metadata.name === patch.target.name)
    expect(matches).toHaveLength(1)
    resources = resources.map((r) => (matches.includes(r) ? mergePatch(r, body) : r))
  }
  for (const { pairs } of kustomization.labels ?? []) {
    resources = resources.map((r) => ({ ...r, metadata: { ...r.metadata, labels: { ...r.metadata.labels, ...pairs } } }))
  }
  for (const image of kustomization.images ?? []) {
    resources = resources.map((r) => JSON.parse(JSON.stringify(r).replaceAll(`"image":"${image.name}"`, `"image":"${image.newName}:${image.newTag}"`)))
  }
  return resources
}

/** Every field name the Kubernetes API types declare, read from the models' type declarations. */
function knownFields(): Set<string> {
  const names = new Set<string>()
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(entry.parentPath ?? dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.d.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/^\s+"?([A-Za-z$_][\w$-]*)"?\??:/gm)) names.add(m[1]!)
    }
  }
  walk(MODELS)
  walk(join(dirname(MODELS), '@kubernetes-models', 'apimachinery'))
  return names
}

/** Keys whose values are free-form maps (names chosen by the user). */
const MAPS = new Set(['labels', 'annotations', 'data', 'matchLabels', 'limits', 'requests', 'nodeSelector'])

function unknownFields(value: unknown, known: Set<string>, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => unknownFields(v, known, `${path}[${i}]`))
  if (typeof value !== 'object' || value === null) return []
  return Object.entries(value).flatMap(([key, child]) => {
    const here = `${path}.${key}`
    if (!known.has(key)) return [here]
    // A Service's selector is a map too.
    if (MAPS.has(key) || (key === 'selector' && path.endsWith('spec') && !('matchLabels' in (child as object)))) return []
    return unknownFields(child, known, here)
  })
}

const base = build(DEPLOY)
const withRedis = build(join(DEPLOY, 'with-redis'))
const one = (resources: Resource[], kind: string, name?: string) => {
  const found = resources.filter((r) => r.kind === kind && (name === undefined || r.metadata.name === name))
  expect(found).toHaveLength(1)
  return found[0]!
}

describe('deploy/kubernetes', () => {
  test('the base has the ConfigMap, Deployment, Service, HPA, PDB and NetworkPolicy; the overlay adds Redis', () => {
    expect(base.map((r) => r.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'Service'])
    expect(withRedis.length).toBe(base.length + 3)
    expect(one(withRedis, 'Deployment', 'gateway-redis')).toBeDefined()
  })

  test('with-redis: only the gateway pods reach Redis, on its port', () => {
    const redisPod = one(withRedis, 'Deployment', 'gateway-redis').spec.template
    const policy = one(withRedis, 'NetworkPolicy', 'gateway-redis')
    expect(policy.spec.podSelector.matchLabels).toEqual(redisPod.metadata.labels)
    expect(policy.spec.ingress).toHaveLength(1)
    const [rule] = policy.spec.ingress
    expect(rule.from).toEqual([{ podSelector: { matchLabels: one(withRedis, 'Deployment', 'gateway').spec.template.metadata.labels } }])
    expect(rule.ports.map((p: any) => p.port)).toEqual([redisPod.spec.containers[0].ports[0].name])
  })

  test('every manifest validates against the Kubernetes schemas, with no unknown field', () => {
    const known = knownFields()
    for (const resource of withRedis) {
      const Model = MODEL[`${resource.apiVersion}/${resource.kind}`]
      expect(Model).toBeDefined()
      expect(() => new Model!(resource).validate()).not.toThrow()
      expect(unknownFields(resource, known)).toEqual([])
    }
    // The check itself catches a typo.
    expect(unknownFields({ spec: { readinesProbe: {} } }, known)).toEqual(['.spec.readinesProbe'])
  })

  const deployment = one(base, 'Deployment', 'gateway')
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]
  const portOf = (name: string | number) => (typeof name === 'number' ? name : container.ports.find((p: any) => p.name === name)?.containerPort)
  const configMap = one(base, 'ConfigMap', 'gateway-config')
  const mount = container.volumeMounts.find((m: any) => pod.volumes.find((v: any) => v.name === m.name)?.configMap?.name === configMap.metadata.name)
  const env = (name: string) => container.env.find((e: any) => e.name === name)
  process.env.GATEWAY_ADMIN_TOKEN = 'test-admin-token-0123456789'
  const result = validateConfig(applyEnvOverrides(Bun.YAML.parse(configMap.data['gateway.yaml']), {}))
  if (!result.ok) throw new Error(`the ConfigMap's gateway.yaml is invalid: ${result.errors.join('; ')}`)
  const config = result.config

  test("the ConfigMap's gateway.yaml is a valid config at the path GATEWAY_CONFIG names", () => {
    expect(env('GATEWAY_CONFIG').value).toBe(`${mount.mountPath}/gateway.yaml`)
    expect(mount.readOnly).toBe(true)
  })

  test('probes point at real paths and ports: liveness /health on the public port, readiness /ready on the admin port', () => {
    expect(deployment.spec.replicas).toBe(2)
    expect(container.livenessProbe.httpGet.path).toBe(config.server.healthPath)
    expect(portOf(container.livenessProbe.httpGet.port)).toBe(config.server.port)
    expect(container.readinessProbe.httpGet.path).toBe('/ready')
    expect(portOf(container.readinessProbe.httpGet.port)).toBe(config.admin.port)
    // The admin listener must be reachable by the kubelet, and guarded by a token.
    expect(config.admin.host).toBe('0.0.0.0')
    expect(config.admin.bearerToken).toBe('test-admin-token-0123456789')
    expect(env('GATEWAY_ADMIN_TOKEN').valueFrom.secretKeyRef.name).toBeDefined()
  })

  test('the Service exposes only the public port; selectors match the pods; the HPA scales the Deployment', () => {
    const labels = deployment.spec.template.metadata.labels
    const service = one(base, 'Service')
    expect(service.spec.ports.map((p: any) => portOf(p.targetPort))).toEqual([config.server.port])
    expect(Object.entries(service.spec.selector).every(([k, v]) => labels[k] === v)).toBe(true)
    const pdb = one(base, 'PodDisruptionBudget')
    expect(Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(true)
    expect(Object.entries(deployment.spec.selector.matchLabels).every(([k, v]) => labels[k] === v)).toBe(true)
    const hpa = one(base, 'HorizontalPodAutoscaler')
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'gateway' })
    const policy = one(base, 'NetworkPolicy')
    const ports = policy.spec.ingress.flatMap((rule: any) => rule.ports.map((p: any) => portOf(p.port)))
    expect(ports.sort()).toEqual([config.server.port, config.admin.port].sort())
  })

  test('shutdown fits the grace period; non-root, read-only, no privileges; one worker per CPU of the limit', () => {
    const preStop = container.lifecycle.preStop.sleep.seconds
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + config.server.shutdownTimeoutSeconds + 2)
    expect(pod.securityContext.runAsNonRoot).toBe(true)
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } })
    expect(env('GATEWAY_WORKERS').valueFrom.resourceFieldRef).toEqual({ containerName: container.name, resource: 'limits.cpu', divisor: '1' })
    expect(container.resources.limits.cpu).toBeDefined()
  })

  test("the shared cache tier's file fits the in-memory /tmp it lives in", () => {
    const tmp = pod.volumes.find((v: any) => v.name === container.volumeMounts.find((m: any) => m.mountPath === '/tmp').name)
    const mebibytes = Number(/^(\d+)Mi$/.exec(tmp.emptyDir.sizeLimit)![1])
    expect(config.cache.shared.path).toBeUndefined() // the default: under the OS temp dir, /tmp
    expect(ringFileBytes(config.cache.shared.maxBytes)).toBeLessThanOrEqual(mebibytes * 1024 * 1024)
  })

  test("with-redis: REDIS_URL names the bundled Redis Service, REDIS_BUS_SECRET comes from a Secret, and both make a valid redis config", () => {
    const gateway = one(withRedis, 'Deployment', 'gateway').spec.template.spec.containers[0]
    const url = gateway.env.find((e: any) => e.name === 'REDIS_URL').value
    const service = one(withRedis, 'Service', 'gateway-redis')
    expect(url).toBe(`redis://${service.metadata.name}:${service.spec.ports[0].port}`)
    // Several replicas share the bus: without the secret all but the first would refuse to start.
    expect(gateway.env.find((e: any) => e.name === 'REDIS_BUS_SECRET').valueFrom.secretKeyRef).toEqual({ name: 'gateway-redis', key: 'busSecret' })
    expect(gateway.env.length).toBe(container.env.length + 2)
    const secret = 'k'.repeat(32)
    const parsed = validateConfig(applyEnvOverrides(Bun.YAML.parse(configMap.data['gateway.yaml']), { REDIS_URL: url, REDIS_BUS_SECRET: secret }))
    expect(parsed.ok && parsed.config.redis).toMatchObject({ url, busSecret: secret })
  })

  test.skipIf(Bun.which('kubectl') === null)('kubectl kustomize, where installed, builds the same resources', () => {
    const built = Bun.spawnSync(['kubectl', 'kustomize', join(DEPLOY, 'with-redis')])
    expect(built.exitCode).toBe(0)
    const theirs = parseDocuments(built.stdout.toString())
    const names = (list: Resource[]) => list.map((r) => `${r.kind}/${r.metadata.name}`).sort()
    expect(names(theirs)).toEqual(names(withRedis))
    const envOf = (list: Resource[]) => one(list, 'Deployment', 'gateway').spec.template.spec.containers[0].env.map((e: any) => e.name).sort()
    expect(envOf(theirs)).toEqual(envOf(withRedis))
  })

  test('a gateway started from the ConfigMap answers the probe paths', async () => {
    const gw = await startGateway(Bun.YAML.parse(configMap.data['gateway.yaml']) as Record<string, any>, { GATEWAY_ADMIN_TOKEN: 'test-admin-token-0123456789' })
    try {
      expect((await fetch(gw.url(container.livenessProbe.httpGet.path))).status).toBe(200)
      expect((await fetch(`http://127.0.0.1:${gw.adminPort}${container.readinessProbe.httpGet.path}`)).status).toBe(200)
      // The token from the Secret guards the rest of the admin port.
      expect((await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).status).toBe(401)
    } finally {
      expect(await gw.stop()).toBe(0)
    }
  }, 20_000)
})
