/* Ping and UDP probe sockets with their error queues, for trace and path MTU without privilege: see probe_socket.c. */
#ifndef ZENSWEEP_PROBE_SOCKET_H
#define ZENSWEEP_PROBE_SOCKET_H

#include <node_api.h>

/* Adds ProbeSocket and probeSocketStats to the addon's exports; napi_ok, or with an exception pending. */
napi_status register_probe_socket(napi_env env, napi_value exports);

#endif
