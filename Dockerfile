# ZenSweep: one image for the agent and the bot (the command says which). raw-socket and native/icmp-socket are
# native addons, so they are built in a stage with the toolchain; the runtime stage is Debian slim with only the Node
# binary, the production node_modules and dist/: no npm, no compiler, no shell tools beyond Debian's base.
#
# RUN --mount needs BuildKit (Docker's default builder since 23.0) or podman/buildah; no `# syntax=` line, so the
# build pulls no frontend image. A package registry behind a TLS-inspecting proxy needs its CA for `npm ci`: pass the
# bundle as a build secret,
#   docker build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt .
#   podman build --secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt .
# It is mounted for that one RUN and written to no layer (test/deploy/image.test.ts searches the final image for it).

FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first, in their own layer: a change to src/ does not download them again. --ignore-scripts skips the
# root's prepare (src/ is not here yet); rebuild then runs the dependencies' own install scripts (the native addons,
# esbuild). native/icmp-socket is a dependency of its own (file:), linked into node_modules.
COPY package.json package-lock.json ./
COPY native ./native
# node-gyp compiles against the headers that ship with this Node (/usr/local/include/node) where they are, rather
# than downloading them: the same ABI by construction, and a build that needs no host but the npm registry.
RUN --mount=type=secret,id=ca_bundle \
    if [ -s /run/secrets/ca_bundle ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; fi \
 && if [ -f /usr/local/include/node/node.h ]; then export npm_config_nodedir=/usr/local; fi \
 && npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# Builds dist/ (tsc, the bundles and their V8 code caches, made by this very Node binary, which the runtime stage
# copies); then only the runtime dependencies are kept, without the addons' object files and the source maps.
# prune would run native/icmp-socket's install script again (a linked package): its addon is built already.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf native/icmp-socket/src native/icmp-socket/build/Release/obj.target native/icmp-socket/build/Release/.deps \
 && find dist -name '*.map' -delete

FROM debian:bookworm-slim
# Node's own binary, the one the build stage compiled the addons and the code caches against.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# No capability and no root: ICMP uses a ping socket (compose sets net.ipv4.ping_group_range for this gid), or a raw
# socket where NET_RAW is granted (see docker-compose.yml). The files stay root's: the process cannot change them.
RUN groupadd --system --gid 10001 zensweep \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin zensweep
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/native ./native
COPY --from=build /app/dist ./dist
ENV NODE_ENV=production
USER 10001:10001
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/cli.cjs"]
CMD ["agent"]
