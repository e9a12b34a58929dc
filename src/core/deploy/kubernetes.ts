/**
 * `assist generate kubernetes`: options → Kubernetes manifests (one multi-document YAML file) that run
 * N independent gateways from the app's image: a Deployment, a Service, a PodDisruptionBudget and,
 * with a domain, an Ingress with TLS. `resolveKubernetesOptions` validates everything (throws
 * UserError); `renderKubernetes` is pure text. Every value is allow-listed, so nothing in the text
 * needs quoting rules beyond the plain YAML scalars used here.
 */
import { UserError } from '../errors.js'
import { defaultImageName, IMAGE_UID } from './docker.js'
import { DEFAULT_GATEWAY_PORT, DEFAULT_GRACE_MS, stopTimeoutSeconds } from './systemd.js'
import {
  validateDomain,
  validateImageRef,
  validateInteger,
  validateK8sName,
  validatePort,
  validateQuantity,
} from './validate.js'

export const DEFAULT_REPLICAS = 2
export const DEFAULT_CPU_REQUEST = '250m'
export const DEFAULT_MEMORY_REQUEST = '256Mi'
export const DEFAULT_MEMORY_LIMIT = '1Gi'
export const DEFAULT_MAX_INSTANCES = 100

export interface KubernetesOptions {
  /** The app folder's name, for the default name (undefined outside an app: --name is required). */
  appFolder?: string
  name?: string
  namespace?: string
  image?: string
  replicas?: number | string
  port?: number | string
  graceMs?: number | string
  maxInstances?: number | string
  cpuRequest?: string
  memoryRequest?: string
  cpuLimit?: string
  memoryLimit?: string
  domain?: string
  tlsSecret?: string
  ingressClass?: string
  /** readOnlyRootFilesystem: only for apps that open no file of their own for writing. */
  readOnlyRoot?: boolean
}

export interface KubernetesSetup {
  name: string
  namespace?: string
  image: string
  replicas: number
  port: number
  graceMs: number
  maxInstances: number
  terminationGraceSeconds: number
  resources: { cpuRequest: string; memoryRequest: string; cpuLimit?: string; memoryLimit: string }
  ingress?: { domain: string; tlsSecret: string; ingressClass?: string }
  readOnlyRoot: boolean
}

function defaultK8sName(folder: string): string | undefined {
  const n = defaultImageName(folder)
    .replace(/_/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
  return n === '' ? undefined : n
}

/** Memory quantities in bytes, to compare a request with its limit. */
function memoryBytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q)
  const units: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  }
  return m ? Number(m[1]) * (m[2] ? units[m[2]] : 1) : Number.NaN
}

function cpuMillis(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) : Number(q) * 1000
}

export function resolveKubernetesOptions(o: KubernetesOptions): KubernetesSetup {
  let name: string
  if (o.name !== undefined) name = validateK8sName('--name', o.name)
  else {
    const derived = o.appFolder === undefined ? undefined : defaultK8sName(o.appFolder)
    if (derived === undefined)
      throw new UserError(
        'Give the app a name with --name (lowercase letters, digits and "-"), e.g. --name my-app; it names the Deployment, Service and image.',
      )
    name = validateK8sName('--name', derived)
  }
  const namespace = o.namespace === undefined ? undefined : validateK8sName('--namespace', o.namespace)
  const image = validateImageRef('--image', o.image ?? `${name}:latest`)
  const replicas = validateInteger('--replicas', o.replicas ?? DEFAULT_REPLICAS, 1, 1000)
  const port = validatePort('--port', o.port ?? DEFAULT_GATEWAY_PORT)
  const graceMs = validateInteger('--grace', o.graceMs ?? DEFAULT_GRACE_MS, 0, 600_000)
  const maxInstances = validateInteger('--max-instances', o.maxInstances ?? DEFAULT_MAX_INSTANCES, 0, 100_000)
  const cpuRequest = validateQuantity('--cpu-request', o.cpuRequest ?? DEFAULT_CPU_REQUEST, 'cpu')
  const memoryRequest = validateQuantity(
    '--memory-request',
    o.memoryRequest ?? DEFAULT_MEMORY_REQUEST,
    'memory',
  )
  const cpuLimit = o.cpuLimit === undefined ? undefined : validateQuantity('--cpu-limit', o.cpuLimit, 'cpu')
  const memoryLimit = validateQuantity('--memory-limit', o.memoryLimit ?? DEFAULT_MEMORY_LIMIT, 'memory')
  if (memoryBytes(memoryRequest) > memoryBytes(memoryLimit))
    throw new UserError(
      `--memory-request ${memoryRequest} is more than --memory-limit ${memoryLimit}; a request must not exceed its limit.`,
    )
  if (cpuLimit !== undefined && cpuMillis(cpuRequest) > cpuMillis(cpuLimit))
    throw new UserError(
      `--cpu-request ${cpuRequest} is more than --cpu-limit ${cpuLimit}; a request must not exceed its limit.`,
    )
  if (o.domain === undefined && (o.tlsSecret !== undefined || o.ingressClass !== undefined))
    throw new UserError('--tls-secret and --ingress-class configure the Ingress: add --domain DOMAIN.')
  let ingress: KubernetesSetup['ingress']
  if (o.domain !== undefined) {
    const domain = validateDomain('--domain', o.domain)
    const tlsSecret = validateK8sSecretName('--tls-secret', o.tlsSecret ?? `${name}-tls`)
    const ingressClass =
      o.ingressClass === undefined ? undefined : validateK8sSecretName('--ingress-class', o.ingressClass)
    ingress = { domain, tlsSecret, ingressClass }
  }
  return {
    name,
    namespace,
    image,
    replicas,
    port,
    graceMs,
    maxInstances,
    terminationGraceSeconds: stopTimeoutSeconds(graceMs),
    resources: { cpuRequest, memoryRequest, cpuLimit, memoryLimit },
    ingress,
    readOnlyRoot: o.readOnlyRoot ?? false,
  }
}

/** Secret and IngressClass names are DNS subdomains: lowercase labels joined by ".". */
function validateK8sSecretName(option: string, value: string): string {
  if (
    value.length > 253 ||
    !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(value)
  )
    throw new UserError(
      `Invalid ${option} ${JSON.stringify(value)}: expected a Kubernetes name (lowercase letters, digits, "-" and "."), e.g. my-app-tls.`,
    )
  return value
}

/** Renders every manifest as one multi-document YAML file. Pure: same setup in, same text out. */
export function renderKubernetes(k: KubernetesSetup): string {
  const L: string[] = []
  const meta = (indent = '') => {
    L.push(`${indent}metadata:`)
    L.push(`${indent}  name: ${k.name}`)
    if (k.namespace) L.push(`${indent}  namespace: ${k.namespace}`)
    L.push(`${indent}  labels:`)
    L.push(`${indent}    app.kubernetes.io/name: ${k.name}`)
    L.push(`${indent}    app.kubernetes.io/component: gateway`)
    L.push(`${indent}    app.kubernetes.io/managed-by: allo-assist`)
  }
  const selector = (indent: string) => {
    L.push(`${indent}app.kubernetes.io/name: ${k.name}`)
    L.push(`${indent}app.kubernetes.io/component: gateway`)
  }
  const scheme = k.ingress ? `https://${k.ingress.domain}/` : `http://<service address>:${k.port}/`

  L.push(
    `# Generated by "assist generate kubernetes" for ${k.name}: ${k.replicas} gateway${k.replicas === 1 ? '' : 's'} (assist serve)`,
  )
  L.push(`# running the image ${k.image} (build it from the app's Dockerfile and push it to a registry the`)
  L.push("# cluster can pull from). Each replica is an independent gateway: a place's launch POST may land")
  L.push('# on any of them, and the instance it starts lives in that pod.')
  L.push('#   kubectl apply -f THIS_FILE')
  L.push(`# A place then launches the app from alloapp:${scheme}`)
  L.push('---')
  L.push('apiVersion: apps/v1')
  L.push('kind: Deployment')
  meta()
  L.push('spec:')
  L.push(`  replicas: ${k.replicas}`)
  L.push('  selector:')
  L.push('    matchLabels:')
  selector('      ')
  L.push('  strategy:')
  L.push('    type: RollingUpdate')
  L.push('    rollingUpdate:')
  L.push('      maxSurge: 1')
  L.push('      maxUnavailable: 0')
  L.push('  template:')
  L.push('    metadata:')
  L.push('      labels:')
  selector('        ')
  L.push('    spec:')
  L.push('      automountServiceAccountToken: false')
  L.push(`      # On delete the pod gets SIGTERM: the gateway stops taking launches (/health answers 503, so`)
  L.push(
    `      # the pod leaves the Service), gives each app instance ${k.graceMs} ms to exit, then exits 0.`,
  )
  L.push(`      terminationGracePeriodSeconds: ${k.terminationGraceSeconds}`)
  L.push('      securityContext:')
  L.push('        runAsNonRoot: true')
  L.push(`        runAsUser: ${IMAGE_UID}`)
  L.push(`        runAsGroup: ${IMAGE_UID}`)
  L.push('        seccompProfile:')
  L.push('          type: RuntimeDefault')
  L.push('      containers:')
  L.push('        - name: gateway')
  L.push(`          image: ${JSON.stringify(k.image)}`) // quoted: an image named "0" or "true" is a string
  L.push('          args:')
  for (const a of [
    'assist',
    'serve',
    '--host',
    '0.0.0.0',
    '--grace',
    String(k.graceMs),
    '--max-instances',
    String(k.maxInstances),
  ])
    L.push(`            - "${a}"`)
  L.push('          env:')
  L.push('            - name: PORT')
  L.push(`              value: "${k.port}"`)
  L.push('          ports:')
  L.push('            - name: http')
  L.push(`              containerPort: ${k.port}`)
  L.push('              protocol: TCP')
  L.push('          # /health answers 200 while the gateway takes launches, 503 while it drains.')
  L.push('          readinessProbe:')
  L.push('            httpGet:')
  L.push('              path: /health')
  L.push('              port: http')
  L.push('            periodSeconds: 5')
  L.push('            timeoutSeconds: 2')
  L.push('            failureThreshold: 2')
  L.push('          livenessProbe:')
  L.push('            httpGet:')
  L.push('              path: /health')
  L.push('              port: http')
  L.push('            initialDelaySeconds: 10')
  L.push('            periodSeconds: 20')
  L.push('            timeoutSeconds: 5')
  L.push('            failureThreshold: 3')
  L.push('          resources:')
  L.push('            requests:')
  L.push(`              cpu: "${k.resources.cpuRequest}"`)
  L.push(`              memory: "${k.resources.memoryRequest}"`)
  L.push('            limits:')
  if (k.resources.cpuLimit) L.push(`              cpu: "${k.resources.cpuLimit}"`)
  L.push(`              memory: "${k.resources.memoryLimit}"`)
  L.push('          # The gateway and its apps need no privileges.')
  if (!k.readOnlyRoot) {
    L.push(
      '          # readOnlyRootFilesystem stays false: alloui opens asset files (images, models) for reading',
    )
    L.push(
      '          # and writing, which a read-only root refuses. For apps without file assets, generate with',
    )
    L.push('          # --read-only-root.')
  }
  L.push('          securityContext:')
  L.push('            allowPrivilegeEscalation: false')
  L.push(`            readOnlyRootFilesystem: ${k.readOnlyRoot}`)
  L.push('            capabilities:')
  L.push('              drop:')
  L.push('                - ALL')
  L.push('          volumeMounts:')
  L.push('            - name: tmp')
  L.push('              mountPath: /tmp')
  L.push('      volumes:')
  L.push('        - name: tmp')
  L.push('          emptyDir:')
  L.push('            sizeLimit: 256Mi')
  L.push('---')
  L.push('apiVersion: v1')
  L.push('kind: Service')
  meta()
  L.push('spec:')
  L.push('  type: ClusterIP')
  L.push('  selector:')
  selector('    ')
  L.push('  ports:')
  L.push('    - name: http')
  L.push(`      port: ${k.port}`)
  L.push('      targetPort: http')
  L.push('      protocol: TCP')
  L.push('---')
  L.push('# Voluntary disruptions (node drains, upgrades) take down at most one gateway at a time.')
  L.push('apiVersion: policy/v1')
  L.push('kind: PodDisruptionBudget')
  meta()
  L.push('spec:')
  L.push('  maxUnavailable: 1')
  L.push('  selector:')
  L.push('    matchLabels:')
  selector('      ')
  if (k.ingress) {
    L.push('---')
    L.push(
      `# HTTPS for ${k.ingress.domain}: the certificate is the Secret ${k.ingress.tlsSecret} (type kubernetes.io/tls),`,
    )
    L.push('# made by hand or by cert-manager (add its cluster-issuer annotation here).')
    L.push('apiVersion: networking.k8s.io/v1')
    L.push('kind: Ingress')
    meta()
    L.push('spec:')
    if (k.ingress.ingressClass) L.push(`  ingressClassName: ${k.ingress.ingressClass}`)
    L.push('  tls:')
    L.push('    - hosts:')
    L.push(`        - ${k.ingress.domain}`)
    L.push(`      secretName: ${k.ingress.tlsSecret}`)
    L.push('  rules:')
    L.push(`    - host: ${k.ingress.domain}`)
    L.push('      http:')
    L.push('        paths:')
    L.push('          - path: /')
    L.push('            pathType: Prefix')
    L.push('            backend:')
    L.push('              service:')
    L.push(`                name: ${k.name}`)
    L.push('                port:')
    L.push('                  name: http')
  }
  return `${L.join('\n')}\n`
}
