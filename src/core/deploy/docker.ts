/**
 * `assist generate docker` (and the Dockerfile every template carries): options → a multi-stage
 * Dockerfile that builds an image running the production gateway (`assist serve`) for one app, its
 * .dockerignore, and a compose.yaml (the gateway; optionally nginx in front with the site
 * `generate nginx` writes). `resolveDockerOptions` validates everything (throws UserError); the
 * render functions are pure text.
 */
import { UserError } from '../errors.js'
import { type NginxSite, renderNginxSite, resolveNginxOptions } from './nginx.js'
import { DEFAULT_GATEWAY_PORT, DEFAULT_GRACE_MS, stopTimeoutSeconds } from './systemd.js'
import {
  validateDomain,
  validateImageRef,
  validateInteger,
  validatePackageVersion,
  validatePort,
} from './validate.js'

/** The default base: an official Node image on Debian (Node ≥ 20.19 is what allo-assist needs). */
export const DEFAULT_BASE_IMAGE = 'node:24-bookworm-slim'
export const DEFAULT_NGINX_IMAGE = 'nginx:stable-bookworm'
/** The user the gateway runs as inside the image (numeric, so Kubernetes can check runAsNonRoot). */
export const IMAGE_UID = 10001
/** Where the app lives inside the image. */
export const IMAGE_APP_DIR = '/app'

export interface DockerOptions {
  /** Compose project and image name; derived from the app folder when absent. */
  name?: string
  /** The app folder's name, for the default name. */
  appFolder: string
  port?: number | string
  graceMs?: number | string
  /** The allo-assist version the image installs (default: this one). */
  assistVersion: string
  baseImage?: string
  /** With a domain, compose.yaml puts nginx in front (TLS) with the site `generate nginx` writes. */
  domain?: string
  /** A read-only root filesystem: only for apps that write no file of their own (see renderCompose). */
  readOnlyRoot?: boolean
}

export interface DockerSetup {
  name: string
  port: number
  graceMs: number
  assistVersion: string
  baseImage: string
  domain?: string
  nginx?: NginxSite
  readOnlyRoot: boolean
}

export interface GeneratedFile {
  /** Path relative to the output folder, with "/". */
  rel: string
  text: string
}

/** A compose project / image name from a folder name: lowercase letters, digits, "-" and "_". */
export function defaultImageName(folder: string): string {
  const cleaned = folder
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 63)
    .replace(/[-_]+$/g, '')
  return cleaned || 'allo-app'
}

function validateComposeName(option: string, value: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(value))
    throw new UserError(
      `Invalid ${option} ${JSON.stringify(value)}: a name has lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters.`,
    )
  return value
}

export function resolveDockerOptions(o: DockerOptions): DockerSetup {
  const name = o.name === undefined ? defaultImageName(o.appFolder) : validateComposeName('--name', o.name)
  const port = validatePort('--port', o.port ?? DEFAULT_GATEWAY_PORT)
  const graceMs = validateInteger('--grace', o.graceMs ?? DEFAULT_GRACE_MS, 0, 600_000)
  const assistVersion = validatePackageVersion('--assist-version', o.assistVersion)
  const baseImage = validateImageRef('--base-image', o.baseImage ?? DEFAULT_BASE_IMAGE)
  const domain = o.domain === undefined ? undefined : validateDomain('--domain', o.domain)
  const nginx =
    domain === undefined
      ? undefined
      : // The site nginx uses inside compose: the gateway by its service name, IPv4 only (a compose
        // network has no IPv6 unless enabled), the certificates mounted from the host.
        resolveNginxOptions({ domain, upstreams: [`gateway:${port}`], ipv6: false })
  return {
    name,
    port,
    graceMs,
    assistVersion,
    baseImage,
    domain,
    nginx,
    readOnlyRoot: o.readOnlyRoot ?? false,
  }
}

/** The HEALTHCHECK command: node is in the image, curl and wget are not. */
export function healthCheckScript(port: number): string {
  return `fetch('http://127.0.0.1:'+(process.env.PORT||${port})+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`
}

/** The gateway's command line inside the image (after the init). */
export function serveCommand(s: Pick<DockerSetup, 'graceMs'>): string[] {
  return ['assist', 'serve', '--host', '0.0.0.0', '--grace', String(s.graceMs)]
}

/** Renders the Dockerfile. Pure: same setup in, same text out. */
export function renderDockerfile(s: DockerSetup): string {
  const stop = stopTimeoutSeconds(s.graceMs)
  const cmd = JSON.stringify(serveCommand(s)).replace(/","/g, '", "')
  const health = JSON.stringify(['node', '-e', healthCheckScript(s.port)]).replace(/","/g, '", "')
  const lines = [
    '# syntax=docker/dockerfile:1',
    '# The production gateway (assist serve) for this app, as a container image.',
    '#',
    '#   docker build -t my-app .                  (or: podman build --format docker -t my-app .)',
    `#   docker run --rm -p ${s.port}:${s.port} --stop-timeout ${stop} my-app`,
    '#',
    `# A place then launches the app from alloapp:http://HOST:${s.port}/ (put TLS in front for the`,
    '# internet: see compose.yaml, "assist generate nginx" and "assist generate kubernetes").',
    '#',
    '# Build arguments (--build-arg NAME=VALUE):',
    '#   BASE_IMAGE        a Debian-based image with Node 20.19 or newer, used by every stage',
    '#   ASSIST_PACKAGE    the allo-assist npm package installed in the image: any spec npm accepts',
    '#                     (a version, a tag, a tarball URL); default: the version that wrote this file',
    '#   ALLONET_BASE_URL  download the native allonet library from this mirror',
    '#                     (<base>/<version>/<platform>/<file>, like "assist fetch --base-url")',
    '#   ALLONET_FROM      or install a Linux library file that is in the build context, given by its',
    '#                     path under allo/, e.g. allo/vendor/liballonet.so (like "assist fetch --from")',
    '#   ALLONET_VERSION   with ALLONET_FROM: the allonet version of that file',
    '#                     Neither: allonet is built from source (git, cmake and a compiler, in the',
    '#                     build stage only; like "assist fetch --build").',
    '#   ALLOUI_URL, ALLOUI_REF  where alloui is cloned from when allo/deps/alloui is not in the',
    '#                     build context (run "git submodule update --init --recursive" to include it)',
    '',
    `ARG BASE_IMAGE=${s.baseImage}`,
    '',
    '# 1. allo-assist itself, from npm, into /opt/assist.',
    'FROM $BASE_IMAGE AS assist',
    `ARG ASSIST_PACKAGE=allo-assist@${s.assistVersion}`,
    'RUN --mount=type=cache,target=/root/.npm \\',
    '    npm install --global --prefix /opt/assist --omit=dev --no-audit --no-fund --no-update-notifier "$ASSIST_PACKAGE" \\',
    '    && /opt/assist/bin/assist --version',
    '',
    "# 2. The app's native dependencies: the allonet library (allo/lib) and alloui (allo/deps/alloui).",
    '#    Only allo/ is copied here, so changing your code does not fetch or build them again.',
    'FROM assist AS deps',
    'ARG ALLONET_BASE_URL=""',
    'ARG ALLONET_FROM=""',
    'ARG ALLONET_VERSION=""',
    'ARG ALLOUI_URL=https://github.com/alloverse/alloui-lua.git',
    'ARG ALLOUI_REF=""',
    'RUN apt-get update \\',
    '    && apt-get install -y --no-install-recommends ca-certificates git \\',
    '       $(if [ -z "$ALLONET_BASE_URL$ALLONET_FROM" ]; then echo cmake make gcc g++ libc6-dev; fi) \\',
    '    && rm -rf /var/lib/apt/lists/*',
    'ENV PATH=/opt/assist/bin:$PATH',
    `WORKDIR ${IMAGE_APP_DIR}`,
    'COPY allo/ allo/',
    '# lua/main.lua marks the folder as an app for "assist fetch" (this stage only; your code comes later).',
    '# The cache keeps allonet builds between image builds.',
    'RUN --mount=type=cache,target=/root/.cache/allo-assist \\',
    '    set -e; \\',
    '    if [ ! -d allo/deps/alloui/lua ]; then \\',
    '      echo "allo/deps/alloui is not in the build context: cloning $ALLOUI_URL"; \\',
    '      rm -rf allo/deps/alloui; \\',
    '      git clone --quiet --recursive "$ALLOUI_URL" allo/deps/alloui; \\',
    '      if [ -n "$ALLOUI_REF" ]; then \\',
    '        git -C allo/deps/alloui checkout --quiet "$ALLOUI_REF"; \\',
    '        git -C allo/deps/alloui submodule update --init --recursive --quiet; \\',
    '      fi; \\',
    '      rm -rf allo/deps/alloui/.git; \\',
    '    fi; \\',
    '    mkdir -p lua && touch lua/main.lua; \\',
    '    if [ -n "$ALLONET_FROM" ]; then \\',
    '      if [ -n "$ALLONET_VERSION" ]; then set -- --version "$ALLONET_VERSION"; fi; \\',
    '      assist fetch --from "$ALLONET_FROM" "$@"; \\',
    '    elif [ -n "$ALLONET_BASE_URL" ]; then \\',
    '      assist fetch --base-url "$ALLONET_BASE_URL"; \\',
    '    else \\',
    '      assist fetch --build; \\',
    '    fi',
    '',
    '# 3. The image that runs: Node, LuaJIT, assist and the app. No compilers, no git.',
    'FROM $BASE_IMAGE',
    '# tini is PID 1: it passes SIGTERM on to the gateway and reaps any process an app leaves behind.',
    'RUN apt-get update \\',
    '    && apt-get install -y --no-install-recommends luajit tini \\',
    '    && rm -rf /var/lib/apt/lists/* \\',
    `    && useradd --system --uid ${IMAGE_UID} --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin allo`,
    'COPY --from=assist /opt/assist /opt/assist',
    `ENV PATH=/opt/assist/bin:$PATH NODE_ENV=production PORT=${s.port}`,
    `WORKDIR ${IMAGE_APP_DIR}`,
    '# The app last (see .dockerignore), owned by the user that runs it: alloui opens asset files',
    '# (images, models) for reading and writing, so they must be writable by that user.',
    `COPY --from=deps --chown=${IMAGE_UID}:${IMAGE_UID} /app/allo/ allo/`,
    `COPY --chown=${IMAGE_UID}:${IMAGE_UID} . .`,
    `USER ${IMAGE_UID}:${IMAGE_UID}`,
    `EXPOSE ${s.port}`,
    `# On SIGTERM the gateway stops taking launches, gives each app instance ${s.graceMs} ms (--grace)`,
    `# to exit, then exits 0: give "docker stop" ${stop} s (--stop-timeout / stop_grace_period).`,
    'STOPSIGNAL SIGTERM',
    'HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \\',
    `    CMD ${health}`,
    'ENTRYPOINT ["/usr/bin/tini", "--"]',
    `CMD ${cmd}`,
  ]
  return `${lines.join('\n')}\n`
}

/** Renders the .dockerignore. Pure. */
export function renderDockerignore(): string {
  return `${[
    '# Kept out of the image build (see Dockerfile).',
    '# Git metadata, including the .git file of the alloui submodule.',
    '.git',
    '**/.git',
    '# The native library is fetched for Linux inside the build: a copy built for this machine stays out.',
    'allo/lib/',
    '# Logs, editor and OS files, local secrets.',
    '**/*.log',
    'logs/',
    '**/.DS_Store',
    '**/*.swp',
    '.env',
    '.env.*',
    'node_modules/',
    '# The container files themselves: editing them need not rebuild the app layer.',
    'Dockerfile',
    '.dockerignore',
    'compose.yaml',
    'nginx/',
  ].join('\n')}\n`
}

/** Renders compose.yaml. Pure. */
export function renderCompose(s: DockerSetup): string {
  const stop = stopTimeoutSeconds(s.graceMs)
  const L: string[] = []
  L.push('# Generated by "assist generate docker": the gateway (assist serve) for this app.')
  L.push('#   docker compose up -d --build         (or: podman-compose up -d --build)')
  if (s.nginx) {
    L.push(`# nginx terminates TLS for ${s.nginx.domain} in front of it (nginx/${s.nginx.fileName}.conf, the`)
    L.push('# site "assist generate nginx" writes). Get the certificate first, e.g.')
    L.push(`#   certbot certonly --standalone -d ${s.nginx.domain}`)
    L.push(`# A place then launches the app from alloapp:https://${s.nginx.domain}/`)
  } else {
    L.push(`# A place then launches the app from alloapp:http://HOST:${s.port}/; for the internet put TLS in`)
    L.push('# front ("assist generate docker --domain DOMAIN" adds nginx here).')
  }
  L.push(`name: ${JSON.stringify(s.name)}`) // quoted: a folder named "123" gives a string name
  L.push('services:')
  L.push('  gateway:')
  L.push('    build: .')
  L.push(`    image: ${JSON.stringify(s.name)}`)
  L.push('    restart: unless-stopped')
  if (s.nginx) {
    L.push('    # Reached only through nginx, on the compose network.')
    L.push('    expose:')
    L.push(`      - "${s.port}"`)
  } else {
    L.push('    ports:')
    L.push(`      - "${s.port}:${s.port}"`)
  }
  L.push(
    `    # The gateway drains on SIGTERM: each instance gets ${s.graceMs} ms (--grace) before it is killed.`,
  )
  L.push(`    stop_grace_period: ${stop}s`)
  L.push('    healthcheck:')
  L.push(`      test: ${JSON.stringify(['CMD', 'node', '-e', healthCheckScript(s.port)])}`)
  L.push('      interval: 30s')
  L.push('      timeout: 5s')
  L.push('      start_period: 10s')
  L.push('      retries: 3')
  L.push('    # The gateway and its apps need no privileges.')
  if (s.readOnlyRoot) {
    L.push('    read_only: true')
  } else {
    L.push('    # Not read_only: alloui opens asset files (images, models) for reading and writing, which a')
    L.push(
      '    # read-only root refuses. Apps without file assets can have it: generate with --read-only-root.',
    )
  }
  L.push('    tmpfs:')
  L.push('      - /tmp')
  L.push('    cap_drop:')
  L.push('      - ALL')
  L.push('    security_opt:')
  L.push('      - no-new-privileges:true')
  if (s.nginx) {
    L.push('  nginx:')
    L.push(`    image: ${DEFAULT_NGINX_IMAGE}`)
    L.push('    restart: unless-stopped')
    L.push('    depends_on:')
    L.push('      gateway:')
    L.push('        condition: service_healthy')
    L.push('    ports:')
    L.push(`      - "${s.nginx.listenHttp.port}:${s.nginx.listenHttp.port}"`)
    L.push(`      - "${s.nginx.listenHttps.port}:${s.nginx.listenHttps.port}"`)
    L.push('    volumes:')
    L.push(`      - ./nginx/${s.nginx.fileName}.conf:/etc/nginx/conf.d/${s.nginx.fileName}.conf:ro`)
    L.push('      - /etc/letsencrypt:/etc/letsencrypt:ro')
    L.push(`      - ${s.nginx.acmeRoot}:${s.nginx.acmeRoot}:ro`)
  }
  return `${L.join('\n')}\n`
}

/** Every file `generate docker` writes, relative to the app folder. */
export function dockerFiles(s: DockerSetup): GeneratedFile[] {
  const files: GeneratedFile[] = [
    { rel: 'Dockerfile', text: renderDockerfile(s) },
    { rel: '.dockerignore', text: renderDockerignore() },
    { rel: 'compose.yaml', text: renderCompose(s) },
  ]
  if (s.nginx) files.push({ rel: `nginx/${s.nginx.fileName}.conf`, text: renderNginxSite(s.nginx) })
  return files
}
