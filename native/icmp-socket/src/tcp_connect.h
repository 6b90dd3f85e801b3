/* TCP connects made by the addon, each with IP_RECVERR: see tcp_connect.c. */
#ifndef ZENSWEEP_TCP_CONNECT_H
#define ZENSWEEP_TCP_CONNECT_H

#include <node_api.h>

/* Adds TcpConnector, tcpConnectStats and injectTcpFault to the addon's exports; napi_ok, or with an exception pending. */
napi_status register_tcp_connect(napi_env env, napi_value exports);

#endif
