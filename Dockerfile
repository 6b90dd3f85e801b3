# ZenSweep: one image for the agent (and, later, the bot). raw-socket and native/icmp-socket are native addons, so
# they are built here with the toolchain and copied into a slim runtime image without it.
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
# A dependency of its own (file:native/icmp-socket): npm ci builds it there and links it into node_modules.
COPY native ./native
# prepare builds dist/; then only the runtime dependencies are kept.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/native ./native
COPY --from=build /app/dist ./dist
# ICMP needs CAP_NET_RAW (compose: cap_add: [NET_RAW]); without it the agent runs TCP probes only and says so.
# The process runs as root inside the container only to hold that capability; it opens no port.
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/cli.cjs"]
CMD ["agent"]
