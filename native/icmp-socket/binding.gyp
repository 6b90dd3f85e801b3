{
  'targets': [
    {
      'target_name': 'icmp_socket',
      'sources': ['src/icmp_socket.c', 'src/tcp_connect.c', 'src/probe_socket.c'],
      'cflags': ['-Wall', '-Wextra', '-Wno-unused-parameter', '-O2'],
      'defines': ['NAPI_VERSION=8'],
    },
  ],
}
