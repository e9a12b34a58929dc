/**
 * `generate kubernetes`' renderer, checked offline against the Kubernetes schemas: the YAML is read
 * back with a real parser (yaml) and each object validated by the npm kubernetes-models package (the
 * OpenAPI schemas of the API server, through ajv). kubectl has no cluster here, so no server-side
 * validation; the schema is what a `kubectl apply --dry-run=server` would check first.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { Deployment } from 'kubernetes-models/apps/v1'
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { Service } from 'kubernetes-models/v1'
import { parseAllDocuments } from 'yaml'
import {
  type KubernetesOptions,
  type KubernetesSetup,
  renderKubernetes,
  resolveKubernetesOptions,
} from '../../src/core/deploy/kubernetes.js'
import { UserError } from '../../src/core/errors.js'

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML is checked field by field
type Obj = any

const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  Deployment,
  Service,
  PodDisruptionBudget,
  Ingress,
}

function objects(text: string): Obj[] {
  const docs = parseAllDocuments(text)
  for (const d of docs) assert.deepEqual(d.errors, [], 'YAML parses')
  return docs.map((d) => d.toJS()).filter((o) => o !== null)
}

/** Validates every object against its schema; returns them by kind. */
function validated(text: string): Record<string, Obj> {
  const byKind: Record<string, Obj> = {}
  for (const o of objects(text)) {
    const Model = MODELS[o.kind]
    assert.ok(Model, `unexpected kind ${o.kind}`)
    new Model(o).validate()
    byKind[o.kind] = o
  }
  return byKind
}

function setup(o: Partial<KubernetesOptions> = {}): KubernetesSetup {
  return resolveKubernetesOptions({ appFolder: 'Clock', ...o })
}

function refuses(fn: () => unknown, option: string): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`)
    assert.ok(e.message.includes(option), `message does not name ${option}: ${e.message}`)
    assert.ok(!e.message.includes('\n'), 'one line')
    return true
  })
}

describe('kubernetes manifests', () => {
  test('defaults: Deployment, Service and PodDisruptionBudget, each valid against the schema', () => {
    const k = validated(renderKubernetes(setup()))
    assert.deepEqual(Object.keys(k).sort(), ['Deployment', 'PodDisruptionBudget', 'Service'])
    const d = k.Deployment
    assert.equal(d.metadata.name, 'clock')
    assert.equal(d.spec.replicas, 2)
    assert.deepEqual(d.spec.selector.matchLabels, d.spec.template.metadata.labels)
    const pod = d.spec.template.spec
    assert.equal(pod.terminationGracePeriodSeconds, 10, 'grace 5 s + 5 s margin, like the systemd unit')
    assert.equal(pod.securityContext.runAsNonRoot, true)
    assert.equal(pod.securityContext.runAsUser, 10001, 'the image user')
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault')
    assert.equal(pod.automountServiceAccountToken, false)
    const [c] = pod.containers
    assert.equal(c.image, 'clock:latest')
    assert.deepEqual(c.args, [
      'assist',
      'serve',
      '--host',
      '0.0.0.0',
      '--grace',
      '5000',
      '--max-instances',
      '100',
    ])
    assert.deepEqual(c.env, [{ name: 'PORT', value: '8000' }])
    assert.equal(c.ports[0].containerPort, 8000)
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      assert.equal(probe.httpGet.path, '/health')
      assert.equal(probe.httpGet.port, 'http')
    }
    assert.deepEqual(c.resources, { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } })
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false, // alloui opens asset files read-write
      capabilities: { drop: ['ALL'] },
    })
    assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }])
    assert.deepEqual(pod.volumes[0].emptyDir, { sizeLimit: '256Mi' })
    assert.deepEqual(k.Service.spec.selector, d.spec.selector.matchLabels)
    assert.equal(k.Service.spec.ports[0].targetPort, 'http')
    assert.equal(k.PodDisruptionBudget.spec.maxUnavailable, 1)
    assert.deepEqual(k.PodDisruptionBudget.spec.selector, d.spec.selector)
  })

  test('every option lands where it belongs; --domain adds an Ingress with TLS', () => {
    const k = validated(
      renderKubernetes(
        setup({
          name: 'clock-prod',
          namespace: 'allo',
          image: 'registry.example.com:5000/team/clock:1.0',
          replicas: '5',
          port: '9000',
          graceMs: '20000',
          maxInstances: '40',
          cpuRequest: '0.5',
          memoryRequest: '512Mi',
          cpuLimit: '2',
          memoryLimit: '2Gi',
          domain: 'Apps.Example.com',
          ingressClass: 'nginx',
          readOnlyRoot: true,
        }),
      ),
    )
    for (const o of Object.values(k)) assert.equal(o.metadata.namespace, 'allo')
    const pod = k.Deployment.spec.template.spec
    assert.equal(k.Deployment.spec.replicas, 5)
    assert.equal(pod.terminationGracePeriodSeconds, 25)
    const [c] = pod.containers
    assert.equal(c.image, 'registry.example.com:5000/team/clock:1.0')
    assert.deepEqual(c.args.slice(-4), ['--grace', '20000', '--max-instances', '40'])
    assert.deepEqual(c.resources, {
      requests: { cpu: '0.5', memory: '512Mi' },
      limits: { cpu: '2', memory: '2Gi' },
    })
    assert.equal(c.securityContext.readOnlyRootFilesystem, true)
    assert.equal(k.Service.spec.ports[0].port, 9000)
    const ing = k.Ingress
    assert.equal(ing.spec.ingressClassName, 'nginx')
    assert.deepEqual(ing.spec.tls, [{ hosts: ['apps.example.com'], secretName: 'clock-prod-tls' }])
    assert.equal(ing.spec.rules[0].host, 'apps.example.com')
    assert.deepEqual(ing.spec.rules[0].http.paths[0].backend.service, {
      name: 'clock-prod',
      port: { name: 'http' },
    })
  })

  test('the schema check can fail: a broken value in the generated objects is rejected', () => {
    const text = renderKubernetes(setup({ domain: 'apps.example.com' }))
    const cases: Array<[string, (o: Obj) => void]> = [
      ['Deployment', (o) => (o.spec.replicas = 'two')],
      ['Deployment', (o) => (o.spec.template.spec.containers[0].resources.limits.memory = '1 GB')],
      ['Deployment', (o) => (o.spec.template.spec.containers[0].ports[0].containerPort = '8000x')],
      ['Deployment', (o) => (o.spec.template.spec.securityContext.runAsNonRoot = 'yes')],
      ['Service', (o) => (o.spec.type = 'Public')],
      ['Ingress', (o) => (o.spec.rules[0].http.paths[0].pathType = 'Anything')],
      ['PodDisruptionBudget', (o) => (o.spec.selector = 'all')],
    ]
    for (const [kind, breakIt] of cases) {
      const o = objects(text).find((x) => x.kind === kind)
      breakIt(o)
      assert.throws(() => new MODELS[kind](o).validate(), `${kind} broken by ${breakIt} still validates`)
    }
  })

  test('bad and hostile values are refused before anything is rendered', () => {
    refuses(() => setup({ domain: 'a;b' }), '--domain')
    refuses(() => setup({ domain: 'a.com\n  evil: 1' }), '--domain')
    refuses(() => setup({ name: 'Clock' }), '--name')
    refuses(() => setup({ name: 'clock\nkind: Secret' }), '--name')
    refuses(() => setup({ name: 'a'.repeat(64) }), '--name')
    refuses(() => setup({ namespace: 'kube system' }), '--namespace')
    refuses(() => setup({ image: 'clock:1.0 # x' }), '--image')
    for (const r of ['0', '-1', '1.5', 'two', '1001', '', '2\n'])
      refuses(() => setup({ replicas: r }), '--replicas')
    refuses(() => setup({ port: '70000' }), '--port')
    refuses(() => setup({ graceMs: '5s' }), '--grace')
    refuses(() => setup({ memoryLimit: '1GB' }), '--memory-limit')
    refuses(() => setup({ memoryRequest: '0' }), '--memory-request')
    refuses(() => setup({ cpuRequest: '-1' }), '--cpu-request')
    refuses(() => setup({ memoryRequest: '2Gi', memoryLimit: '1Gi' }), '--memory-request')
    refuses(() => setup({ cpuRequest: '2', cpuLimit: '500m' }), '--cpu-request')
    refuses(() => setup({ tlsSecret: 'x' }), '--tls-secret')
    refuses(() => setup({ domain: 'a.com', tlsSecret: 'TLS!' }), '--tls-secret')
    refuses(() => resolveKubernetesOptions({}), '--name')
    refuses(() => resolveKubernetesOptions({ appFolder: '123' }), '--name')
  })

  test('any valid options render manifests that pass the schema; any string is refused or passes', () => {
    fc.assert(
      fc.property(
        fc.record({
          replicas: fc.integer({ min: 1, max: 1000 }).map(String),
          port: fc.integer({ min: 1, max: 65535 }).map(String),
          graceMs: fc.integer({ min: 0, max: 600_000 }).map(String),
          cpuRequest: fc.constantFrom('100m', '0.25', '1', '250m'),
          domain: fc.option(fc.domain(), { nil: undefined }),
        }),
        (o) => {
          const k = validated(renderKubernetes(setup(o)))
          assert.equal(k.Deployment.spec.replicas, Number(o.replicas))
          assert.equal(
            k.Deployment.spec.template.spec.terminationGracePeriodSeconds,
            Math.ceil(Number(o.graceMs) / 1000) + 5,
          )
        },
      ),
      { numRuns: 60 },
    )
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('name', 'namespace', 'image', 'domain', 'replicas', 'memoryLimit', 'cpuRequest'),
        (value, key) => {
          let s: KubernetesSetup
          try {
            s = setup({ [key]: value })
          } catch (e) {
            assert.ok(e instanceof UserError, String(e))
            return
          }
          validated(renderKubernetes(s))
        },
      ),
      { numRuns: 300 },
    )
  })
})
