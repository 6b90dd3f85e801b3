/*
 * ZenSweep's ICMP socket: one raw ICMP (or ICMPv6) socket, with what raw-socket does not offer; or, where the
 * process may not open a raw socket, one Linux ping socket (SOCK_DGRAM, IPPROTO_ICMP or IPPROTO_ICMPV6), which any
 * process whose group is inside net.ipv4.ping_group_range may open (that one sysctl covers IPv6 too).
 *
 *  - A socket filter (classic BPF) on the echo identifier, so the kernel hands this socket only its own echo
 *    replies, the ICMP errors that quote its own requests, and those that quote a TCP segment (the TCP prober
 *    matches them to its own connection attempts). Every raw ICMP socket receives a copy of every ICMP message:
 *    without the filter, N agents on one host each parse all N agents' replies.
 *  - recvmmsg: every queued packet in a few calls, no exception at the end of the queue.
 *  - A sender thread: echo requests handed over in a queue and sent from another core. On loopback and fast LANs
 *    each send carries the kernel's whole round trip (the reply is built and queued inside the call), so a large
 *    sweep would otherwise be bound by one core. The thread takes up to SEND_BATCH orders at a time and sends them
 *    with sendmmsg, each packet in a buffer of its own, stamped with its send time just before the call; a call that
 *    stops short is taken up at the packet it stopped at, which meets what a lone send would (see send_batch).
 *  - A full neighbour table made visible. The kernel tells a raw socket that it dropped a packet for want of
 *    buffers (ENOBUFS; a full neighbour table is one) only with IP_RECVERR set, and IPv6 fails the send with
 *    EINVAL. IP_RECVERR also copies ICMP errors to the socket's error queue, which is emptied here: the errors
 *    themselves are read as packets.
 *
 * A ping socket differs from a raw one in three ways, handled here so that both answer the same:
 *  - the kernel writes the socket's own "port" into every request's identifier and hands it only the replies with
 *    that identifier: the filter above is the kernel's own, and replies are matched on sequence and payload token;
 *  - replies come without their IP header (IPv4 too);
 *  - ICMP errors about its requests (unreachable with its code, prohibited, time exceeded, fragmentation needed) come
 *    on the error queue (IP_RECVERR / IPV6_RECVERR, read with recvmmsg(MSG_ERRQUEUE)): a sock_extended_err (origin,
 *    type, code, errno, info), the offender (who sent the error), the address the request went to, and as data the
 *    request as quoted (its sequence and token, as far as the sender quoted it). `receive` reads them into the same
 *    slots as packets, with what the error queue says in each one's meta (see META_BYTES).
 *
 * It trusts nothing it is given: every argument is checked (type, and every index, length and count in 64-bit
 * arithmetic against what it indexes) and refused with a TypeError or RangeError; every libuv and pthread call is
 * checked, and a failure anywhere in construction unwinds exactly what was set up. A socket lives until its two libuv
 * handles are closed and its JS object is collected; an environment torn down (a worker terminated) closes it first,
 * and holds the teardown until its handles are closed (an async cleanup hook), so no handle outlives its loop.
 *
 * It also reads the kernel's neighbour table (`neighbours`): one netlink RTM_GETNEIGH dump, ARP and neighbour
 * discovery together, which Node cannot do (it has no netlink socket). The engine reads it to tell an on-link address
 * where something answered ARP/ND from one where nothing did (src/engine/neighbours.ts).
 *
 * The JS side is src/engine/icmp/icmp-socket.ts; it alone uses this (and the tests, `stats` and `injectFault`), but
 * for `neighbours`, which src/engine/neighbours.ts reads.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <linux/filter.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <math.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "probe_socket.h"
#include "tcp_connect.h"
#define ADDON_PART "icmp-socket"
#include "napi_checks.h"

#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE 32
#endif
#ifndef SO_RCVBUFFORCE
#define SO_RCVBUFFORCE 33
#endif
#define SOL_RAW_LEVEL 255
#define ICMP_FILTER_OPTION 1
#define ICMP6_FILTER_OPTION 1

/* One received packet per slot of the receive buffer; ICMP errors quote at most 576 (v4) or 1280 (v6) bytes. */
#define SLOT_BYTES 2048
#define MAX_BATCH 64
/*
 * Echo requests the sender thread takes and sends in one sendmmsg at most. All of a call's packets carry the time
 * read just before it, and on loopback each packet costs the call its whole round trip: measured on Linux 6.18 (2
 * cores), one call of 16 takes about 25 µs (raw and ping sockets alike; 32: 50 µs, 64: 100 µs), so the last packet's
 * stamp is at most some 25 µs early there, and less on a real link, where a send only queues the packet. Larger
 * batches saved almost nothing more per packet (1.75 µs for 16, 1.70 for 32, 1.69 for 64, raw; 2.05 sent alone).
 */
#define SEND_BATCH 16
/*
 * Per packet in the meta buffer (little-endian): its length (u32) at 0; its source address (16 bytes) at 4: for an
 * error read from the error queue, the offender (who sent the ICMP error; zero for a local one); then, for what the
 * error queue holds (ping sockets), its kind at 20 (META_PACKET, META_ICMP_ERROR, META_LOCAL_ERROR), the ICMP type
 * at 21, code at 22, origin (SO_EE_ORIGIN_*) at 23, errno (u32) at 24, info (u32: the MTU of a fragmentation
 * needed) at 28, and the address the quoted request was sent to (16 bytes) at 32.
 */
#define META_BYTES 48
#define META_KIND 20
#define META_DESTINATION 32
#define META_PACKET 0
#define META_ICMP_ERROR 1
#define META_LOCAL_ERROR 2
/* Room for one error queue message's control data: a sock_extended_err and its offender, with cmsg headers. */
#define CONTROL_BYTES 128

#define ECHO_BYTES 64
#define TOKEN_BYTES 8
#define SEND_TIME_OFFSET (8 + TOKEN_BYTES + 4)
/* Orders waiting for the sender thread at most (order()'s limit): the ring never grows past it. */
#define MAX_ORDERS (1u << 20)
/* Send errors kept for the event loop at most (3 array elements each in takeSenderEvents: well within 2^32). */
#define MAX_SEND_ERRORS (1u << 24)
/* The longest address text read_address accepts (INET6_ADDRSTRLEN is 46). */
#define ADDRESS_TEXT_BYTES 64

typedef struct {
  uint16_t sequence;
  uint32_t probe;
  uint8_t address[16];
} order_t;

typedef struct {
  uint16_t sequence;
  uint32_t probe;
  int error;
} send_error_t;

typedef struct {
  int fd;
  int family;
  /* A ping socket (SOCK_DGRAM): no IP header on replies, ICMP errors on the error queue. */
  int ping;
  int closed;
  napi_env env;
  napi_ref on_event;
  napi_async_context async_context;
  /* Registered while the socket is open: the environment's teardown closes it (see on_teardown). */
  napi_async_cleanup_hook_handle cleanup_hook;
  /* Set when the teardown has begun: removed once both handles are closed, which lets the teardown go on. */
  napi_async_cleanup_hook_handle teardown;

  uv_poll_t poll;
  uv_async_t async;
  int poll_ready;
  int async_ready;
  int poll_started;
  int poll_events;
  /* Handles initialised and not yet closed (their close callbacks count down). */
  int handles_open;
  /* Freed when this is 0: one per initialised libuv handle until its close callback, one for the JS object. */
  int holders;

  struct mmsghdr messages[MAX_BATCH];
  struct iovec vectors[MAX_BATCH];
  struct sockaddr_in6 names[MAX_BATCH];
  /* Control data of error queue messages (ping sockets). */
  uint8_t controls[MAX_BATCH][CONTROL_BYTES];

  /* The sender thread and what it shares with the JS thread, under `lock`. */
  int lock_ready;
  int wake_ready;
  pthread_t thread;
  int thread_running;
  int stopping;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  order_t *ring;
  uint32_t ring_capacity;
  uint32_t ring_head;
  uint32_t ring_count;
  uint32_t in_hand;
  send_error_t *errors;
  uint32_t error_count;
  uint32_t error_capacity;
  /* The echo request every packet of a batch starts from: type, identifier, token and a fixed pattern. */
  uint8_t request[ECHO_BYTES];

  /* The sender thread's batch, which only it touches once it runs (the JS thread's receive has the arrays above):
     each packet has a buffer and an address of its own, and its checksum's sum without its send time (IPv4), to
     which the time is added as it is stamped. */
  struct mmsghdr batch_messages[SEND_BATCH];
  struct iovec batch_vectors[SEND_BATCH];
  struct sockaddr_in6 batch_names[SEND_BATCH];
  uint8_t batch_packets[SEND_BATCH][ECHO_BYTES];
  uint32_t batch_sums[SEND_BATCH];
  /* A test's fault (send_again, send_shortage): the packet of the batch that meets it, SEND_BATCH for none, and
     the errno it meets. */
  uint32_t faulted_packet;
  int faulted_error;
} icmp_socket_t;

/* ---- what the tests can see and provoke ------------------------------------------------------------------------- */

/* Live resources of every environment of the process: the tests check that nothing outlives its socket. */
static int live_sockets, live_rings, live_threads, live_callbacks;
/* Sockets closed by their environment's teardown (a worker terminated with sockets open). */
static int teardowns;

/*
 * Failures the tests provoke, each once, where the system would hardly ever fail: the unwinding of every step of
 * construction and of the sender's start is otherwise never run.
 */
enum fault { FAULT_NONE, FAULT_MUTEX, FAULT_COND, FAULT_REFERENCE, FAULT_POLL_INIT, FAULT_ASYNC_INIT, FAULT_CLEANUP_HOOK,
             FAULT_WRAP, FAULT_RING, FAULT_THREAD, FAULT_NETLINK, FAULT_NETLINK_SEND, FAULT_NETLINK_RECEIVE,
             FAULT_NEIGHBOUR_LIST, FAULT_SEND_AGAIN, FAULT_SEND_SHORTAGE };
static const char *const FAULT_NAMES[] = {"none",          "mutex",          "cond",          "reference",
                                          "poll_init",     "async_init",     "cleanup_hook",  "wrap",
                                          "ring",          "thread",         "netlink",       "netlink_send",
                                          "netlink_receive", "neighbour_list", "send_again",    "send_shortage"};
static int injected_fault;

static bool fault(enum fault which) { return take_fault(&injected_fault, (int)which); }

/* ---- small helpers ---------------------------------------------------------------------------------------------- */

/* A lock, a wait or a join that fails is a bug of this file (EINVAL, EDEADLK): nothing sensible can follow. */
static void must(int result, const char *what) {
  if (result != 0) napi_fatal_error("icmp-socket", NAPI_AUTO_LENGTH, what, NAPI_AUTO_LENGTH);
}

static void lock(icmp_socket_t *s) { must(pthread_mutex_lock(&s->lock), "pthread_mutex_lock failed"); }
static void unlock(icmp_socket_t *s) { must(pthread_mutex_unlock(&s->lock), "pthread_mutex_unlock failed"); }


/* The Internet checksum in two steps: the sum of the 16-bit words (a few words can be added to it later), folded. */
static uint32_t checksum_sum(const uint8_t *data, size_t length) {
  uint32_t sum = 0;
  size_t i = 0;
  for (; i + 1 < length; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (i < length) sum += (uint32_t)(data[i] << 8);
  return sum;
}

static uint16_t checksum_of_sum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static double monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static socklen_t fill_address(int family, const uint8_t *address, struct sockaddr_in6 *out) {
  memset(out, 0, sizeof *out);
  if (family == 4) {
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    v4->sin_family = AF_INET;
    memcpy(&v4->sin_addr, address, 4);
    return sizeof *v4;
  }
  out->sin6_family = AF_INET6;
  memcpy(&out->sin6_addr, address, 16);
  return sizeof *out;
}

/* Empties the error queue (IP_RECVERR's copies of ICMP errors) and the pending error; false if the socket is bad. */
static int clear_errors(int fd) {
  uint8_t scratch[256];
  struct iovec vector = {.iov_base = scratch, .iov_len = sizeof scratch};
  for (int i = 0; i < 100000; i++) {
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
  }
  int error = 0;
  socklen_t length = sizeof error;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0;
}

/*
 * The send failed for want of buffers: for IPv4 ENOBUFS, for IPv6 EINVAL (no neighbour entry could be made). An
 * IPv6 EINVAL for a link-local or multicast destination is about the address, not the table (the JS side refuses
 * those before sending; this keeps the thread from pausing the whole socket for one, should one come).
 */
static int is_shortage(int family, int error, const uint8_t *address) {
  if (error == ENOBUFS) return 1;
  if (family != 6 || error != EINVAL) return 0;
  const struct in6_addr *v6 = (const struct in6_addr *)address;
  return !IN6_IS_ADDR_LINKLOCAL(v6) && !IN6_IS_ADDR_MULTICAST(v6);
}

/*
 * sendto, again after EINTR: 0 or the errno. A ping socket's send also fails with the error an earlier request's ICMP
 * error left pending (ping_err sets sk_err even with IP_RECVERR, and the send path reports it before it sends; a raw
 * socket's does not): that send took the pending error, sent nothing, and is tried again, at most PING_SEND_TRIES
 * times in all (the error itself is on the error queue, read by `receive`). A failure of the send itself (no route)
 * fails every try with the same errno, which is returned.
 */
#define PING_SEND_TRIES 8
static int send_packet(const icmp_socket_t *s, const uint8_t *data, size_t length, const struct sockaddr_in6 *to,
                       socklen_t to_length) {
  int error = 0;
  for (int tries = 0; tries < (s->ping ? PING_SEND_TRIES : 1);) {
    if (sendto(s->fd, data, length, 0, (const struct sockaddr *)to, to_length) >= 0) return 0;
    error = errno;
    if (error == EINTR) continue;
    if (error == EAGAIN || error == EWOULDBLOCK) break;
    tries++;
  }
  return error;
}

/* ---- the socket filter ---------------------------------------------------------------------------------------- */

/* Classic BPF jumps count instructions after the next one: JUMP_TO(from, to) is the offset from `from` to `to`. */
#define JUMP_TO(from, to) ((to) - (from) - 1)

/*
 * IPv4: the raw socket sees the IP header first. Accept an echo reply with our identifier, and an error (3, 11, 12)
 * quoting an ICMP packet with our identifier or quoting a TCP segment (the TCP prober reads those).
 */
static int attach_filter_v4(int fd, uint16_t identifier) {
  enum { ACCEPT = 18, DROP = 19 };
  struct sock_filter code[] = {
      /* 0 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                                  /* X = IP header length */
      /* 1 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),                                   /* A = ICMP type */
      /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, JUMP_TO(2, 5)),                /* echo reply? */
      /* 3 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 4),                                   /* A = its identifier */
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(4, ACCEPT), JUMP_TO(4, DROP)),
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3, JUMP_TO(5, 8), 0),                /* unreachable */
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 11, JUMP_TO(6, 8), 0),               /* time exceeded */
      /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 12, 0, JUMP_TO(7, DROP)),            /* parameter problem */
      /* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8 + 9),                               /* A = quoted protocol */
      /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, JUMP_TO(9, ACCEPT), 0),           /* quoted TCP? */
      /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, JUMP_TO(10, DROP)),           /* quoted ICMP? */
      /* 11 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 8),                                  /* quoted version, length */
      /* 12 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x0f),
      /* 13 */ BPF_STMT(BPF_ALU | BPF_LSH | BPF_K, 2),                                 /* quoted header length */
      /* 14 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
      /* 15 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),                                        /* X = both lengths */
      /* 16 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 8 + 4),                              /* quoted identifier */
      /* 17 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(17, ACCEPT), JUMP_TO(17, DROP)),
      /* 18 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
      /* 19 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

/*
 * IPv6: the raw ICMPv6 socket sees the ICMPv6 message alone (RFC 3542), and its type filter lets through only echo
 * replies and errors (1 to 4). Accept an echo reply with our identifier, and an error quoting an ICMPv6 packet with
 * our identifier (next header 58 right after the quoted 40-byte header) or quoting a TCP segment (next header 6).
 */
static int attach_filter_v6(int fd, uint16_t identifier) {
  enum { ACCEPT = 9, DROP = 10 };
  struct sock_filter code[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),                                   /* A = ICMPv6 type */
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 129, 0, JUMP_TO(1, 4)),              /* echo reply? */
      /* 2 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 4),                                   /* A = its identifier */
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(3, ACCEPT), JUMP_TO(3, DROP)),
      /* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 8 + 6),                               /* quoted next header */
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, JUMP_TO(5, ACCEPT), 0),           /* quoted TCP? */
      /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, JUMP_TO(6, DROP)),            /* quoted ICMPv6? */
      /* 7 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 8 + 40 + 4),                          /* quoted identifier */
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, identifier, JUMP_TO(8, ACCEPT), JUMP_TO(8, DROP)),
      /* 9 */ BPF_STMT(BPF_RET | BPF_K, 0x40000),
      /* 10 */ BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog program = {.len = sizeof code / sizeof code[0], .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
}

/* ---- the sender thread ---------------------------------------------------------------------------------------- */

/*
 * Under the lock. Grows the list in 64-bit arithmetic, up to MAX_SEND_ERRORS; an error that finds no room is dropped
 * (its echo times out, as if the request had been lost).
 */
static void add_error(icmp_socket_t *s, const order_t *order, int error) {
  if (s->error_count == s->error_capacity) {
    uint64_t capacity = s->error_capacity ? (uint64_t)s->error_capacity * 2 : 64;
    if (capacity > MAX_SEND_ERRORS) return;
    send_error_t *grown = realloc(s->errors, (size_t)capacity * sizeof *grown);
    if (!grown) return;
    s->errors = grown;
    s->error_capacity = (uint32_t)capacity;
  }
  s->errors[s->error_count++] = (send_error_t){order->sequence, order->probe, error};
}

/* Makes packet i of the batch into `order`'s echo request, to be stamped before it is sent (stamp_batch). */
static void build_packet(icmp_socket_t *s, uint32_t i, const order_t *order) {
  uint8_t *packet = s->batch_packets[i];
  memcpy(packet, s->request, ECHO_BYTES);
  packet[2] = packet[3] = 0;
  packet[6] = (uint8_t)(order->sequence >> 8);
  packet[7] = (uint8_t)order->sequence;
  packet[8 + TOKEN_BYTES] = (uint8_t)(order->probe >> 24);
  packet[8 + TOKEN_BYTES + 1] = (uint8_t)(order->probe >> 16);
  packet[8 + TOKEN_BYTES + 2] = (uint8_t)(order->probe >> 8);
  packet[8 + TOKEN_BYTES + 3] = (uint8_t)order->probe;
  memset(packet + SEND_TIME_OFFSET, 0, 8);
  s->batch_sums[i] = checksum_sum(packet, ECHO_BYTES);
  s->batch_messages[i].msg_hdr.msg_namelen = fill_address(s->family, order->address, &s->batch_names[i]);
}

/*
 * Writes the time now into packets first to count - 1, just before the call that sends them, and (IPv4) their
 * checksum: the sum without the time plus the time's four words (the time sits at an even offset).
 */
static void stamp_batch(icmp_socket_t *s, uint32_t first, uint32_t count) {
  double now = monotonic_ms();
  uint64_t bits;
  memcpy(&bits, &now, 8);
  uint8_t stamp[8];
  for (int i = 0; i < 8; i++) stamp[i] = (uint8_t)(bits >> (56 - 8 * i));
  uint32_t stamp_sum = checksum_sum(stamp, sizeof stamp);
  for (uint32_t i = first; i < count; i++) {
    uint8_t *packet = s->batch_packets[i];
    memcpy(packet + SEND_TIME_OFFSET, stamp, sizeof stamp);
    if (s->family == 4) {
      uint16_t sum = checksum_of_sum(s->batch_sums[i] + stamp_sum);
      packet[2] = (uint8_t)(sum >> 8);
      packet[3] = (uint8_t)sum;
    }
  }
}

/*
 * One sendmmsg of packets first to count - 1: how many were sent, or -1 and errno (EINTR too). Where a test injected
 * send_again or send_shortage, a call of at least 3 packets sends only the first 2, as the kernel does when the next
 * one fails, and the call that then begins with the third fails with EAGAIN (once) or ENOBUFS (every time).
 */
static int send_messages(icmp_socket_t *s, uint32_t first, uint32_t count) {
  uint32_t wanted = count - first;
  if (s->faulted_packet == first) {
    errno = s->faulted_error;
    if (s->faulted_error == EAGAIN) s->faulted_packet = SEND_BATCH;
    return -1;
  }
  if (wanted >= 3 && s->faulted_packet == SEND_BATCH) {
    bool again = fault(FAULT_SEND_AGAIN);
    if (again || fault(FAULT_SEND_SHORTAGE)) {
      s->faulted_packet = first + 2;
      s->faulted_error = again ? EAGAIN : ENOBUFS;
      wanted = 2;
    }
  }
  return sendmmsg(s->fd, s->batch_messages + first, wanted, 0);
}

/*
 * Sends packets 0 to count - 1 of the batch (built for `orders`), as many as the kernel takes in each sendmmsg. A
 * call that stops short does not say why: the packet it stopped at begins the next call, and that call's failure
 * (-1) is this packet's, met as a lone send would meet it: EAGAIN waits for room; a ping socket's send that took the
 * error an earlier request's ICMP error left pending (see send_packet) is tried again, until PING_SEND_TRIES calls
 * have failed with it first (the failure that ended a call short gives no errno and is not counted); any other
 * failure is reported for this order alone, and the rest go on in the next call. A packet that is tried again, or
 * that waited, carries the time of the call that sends it.
 * Returns 0 when every order is done with (sent, or failed for good: reported), 1 when told to stop while waiting,
 * 2 when the kernel is short of buffers: `*reached` is then the order it could not send, and `*error` the errno, for
 * the caller to report with those not tried yet.
 */
static int send_batch(icmp_socket_t *s, const order_t *orders, uint32_t count, uint32_t *reached, int *error) {
  s->faulted_packet = SEND_BATCH;
  uint32_t first = 0;
  int tries = 0; /* failed sends of packet `first` */
  while (first < count) {
    stamp_batch(s, first, count);
    int sent = send_messages(s, first, count);
    if (sent > 0) {
      first += (uint32_t)sent;
      tries = 0;
      continue;
    }
    /* sendmmsg returns 0 only for 0 messages: anything else is a failure of the first. */
    int failure = sent < 0 ? errno : EIO;
    if (failure == EINTR) continue;
    if (failure == EAGAIN || failure == EWOULDBLOCK) {
      struct pollfd writable = {.fd = s->fd, .events = POLLOUT};
      poll(&writable, 1, 50);
      lock(s);
      int stop = s->stopping;
      unlock(s);
      if (stop) return 1;
      tries = 0;
      continue;
    }
    if (++tries < (s->ping ? PING_SEND_TRIES : 1)) continue;
    if (is_shortage(s->family, failure, orders[first].address)) {
      *reached = first;
      *error = failure;
      return 2;
    }
    lock(s);
    add_error(s, &orders[first], failure);
    /* The handle is closed only after this thread is joined: a failure here is a bug of this file. */
    must(uv_async_send(&s->async), "uv_async_send failed");
    unlock(s);
    first += 1;
    tries = 0;
  }
  return 0;
}

static void *sender_main(void *argument) {
  icmp_socket_t *s = argument;
  order_t batch[SEND_BATCH];
  lock(s);
  for (;;) {
    while (!s->stopping && s->ring_count == 0) must(pthread_cond_wait(&s->wake, &s->lock), "pthread_cond_wait failed");
    if (s->stopping) break;
    uint32_t taken = 0;
    while (taken < SEND_BATCH && s->ring_count > 0) {
      batch[taken++] = s->ring[s->ring_head];
      s->ring_head = (s->ring_head + 1) % s->ring_capacity;
      s->ring_count -= 1;
    }
    s->in_hand = taken;
    unlock(s);
    for (uint32_t i = 0; i < taken; i++) build_packet(s, i, &batch[i]);
    uint32_t reached = 0;
    int error = 0;
    int outcome = send_batch(s, batch, taken, &reached, &error);
    lock(s);
    if (outcome == 1) break;
    if (outcome == 2) {
      /* Short of buffers: this order goes back, and every order not tried yet too (errno 0), all in one event, and
         the event loop pauses first. */
      add_error(s, &batch[reached], error);
      for (uint32_t j = reached + 1; j < taken; j++) add_error(s, &batch[j], 0);
      for (; s->ring_count > 0; s->ring_count--) {
        add_error(s, &s->ring[s->ring_head], 0);
        s->ring_head = (s->ring_head + 1) % s->ring_capacity;
      }
      must(uv_async_send(&s->async), "uv_async_send failed");
    }
    s->in_hand = 0;
  }
  s->in_hand = 0;
  unlock(s);
  return NULL;
}

/* ---- events to JS --------------------------------------------------------------------------------------------- */

static void call_js(icmp_socket_t *s, int kind) {
  if (s->closed || !s->on_event) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argument, result;
  if (napi_get_reference_value(env, s->on_event, &callback) == napi_ok && callback &&
      napi_get_global(env, &receiver) == napi_ok && napi_create_int32(env, kind, &argument) == napi_ok) {
    /* make_callback, not call_function: it runs the microtasks and ticks the callback queues, as Node's own do. */
    napi_status status = napi_make_callback(env, s->async_context, receiver, callback, 1, &argument, &result);
    if (status == napi_pending_exception) {
      napi_value error;
      napi_valuetype type = napi_undefined;
      /* What the callback threw goes where an uncaught exception goes; a worker being terminated has nothing to
         throw (its "exception" is the termination itself) and nothing is thrown for it. */
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok && napi_typeof(env, error, &type) == napi_ok &&
          type != napi_undefined && type != napi_null) {
        napi_fatal_exception(env, error);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Event kinds, as icmp-socket.ts reads them. */
#define EVENT_READABLE 1
#define EVENT_WRITABLE 2
#define EVENT_SENDER 4

static void on_poll(uv_poll_t *handle, int status, int events);

/* Starts, changes or stops the poll for s->poll_events; 0 or a libuv error. */
static int apply_poll(icmp_socket_t *s) {
  if (s->closed) return 0;
  if (s->poll_events) {
    int result = uv_poll_start(&s->poll, s->poll_events, on_poll);
    if (result < 0) return result;
    s->poll_started = 1;
  } else if (s->poll_started) {
    int result = uv_poll_stop(&s->poll);
    if (result < 0) return result;
    s->poll_started = 0;
  }
  return 0;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  icmp_socket_t *s = handle->data;
  if (status < 0) {
    /* libuv stops polling on POLLERR, which a pending error (IP_RECVERR) raises too: clear it and go on (a ping
       socket's errors are what it reads: `receive` empties its error queue); a socket that cannot even say its error,
       or be polled again, is of no more use. */
    s->poll_started = 0;
    if (s->closed || (!s->ping && !clear_errors(s->fd)) || apply_poll(s) < 0) {
      call_js(s, 0);
      return;
    }
    events = s->poll_events & UV_READABLE;
  }
  int kind = 0;
  if (events & UV_READABLE) kind |= EVENT_READABLE;
  if (events & UV_WRITABLE) kind |= EVENT_WRITABLE;
  if (kind) call_js(s, kind);
}

static void on_async(uv_async_t *handle) { call_js(handle->data, EVENT_SENDER); }

/* ---- life and death ------------------------------------------------------------------------------------------- */

static void free_socket(icmp_socket_t *s) {
  if (s->lock_ready) must(pthread_mutex_destroy(&s->lock), "pthread_mutex_destroy failed");
  if (s->wake_ready) must(pthread_cond_destroy(&s->wake), "pthread_cond_destroy failed");
  if (s->ring) count(&live_rings, -1);
  free(s->ring);
  free(s->errors);
  free(s);
  count(&live_sockets, -1);
}

static void release(icmp_socket_t *s) {
  if (--s->holders == 0) free_socket(s);
}

static void on_handle_closed(uv_handle_t *handle) {
  icmp_socket_t *s = handle->data;
  /* The environment's teardown waits for these: once both are closed, it may go on (and close the loop). */
  if (--s->handles_open == 0 && s->teardown) {
    napi_async_cleanup_hook_handle teardown = s->teardown;
    s->teardown = NULL;
    napi_remove_async_cleanup_hook(teardown);
  }
  release(s);
}

static void stop_sender(icmp_socket_t *s) {
  if (!s->thread_running) return;
  lock(s);
  s->stopping = 1;
  must(pthread_cond_broadcast(&s->wake), "pthread_cond_broadcast failed");
  unlock(s);
  must(pthread_join(s->thread, NULL), "pthread_join failed");
  s->thread_running = 0;
  count(&live_threads, -1);
}

/*
 * Closes what is open, once, whatever stage it reached: the sender thread, the descriptor, the callback's reference,
 * the async context, the teardown hook, and the libuv handles (whose close callbacks release their holds).
 */
static void close_socket(icmp_socket_t *s) {
  if (s->closed) return;
  s->closed = 1;
  stop_sender(s);
  /* No thread any more, and nothing reads them after close: the ring and the errors go now, not with the object. */
  if (s->ring) count(&live_rings, -1);
  free(s->ring);
  s->ring = NULL;
  s->ring_capacity = s->ring_count = s->ring_head = 0;
  free(s->errors);
  s->errors = NULL;
  s->error_capacity = s->error_count = 0;
  if (s->poll_started) {
    must(uv_poll_stop(&s->poll), "uv_poll_stop failed"); /* It fails only on a handle that is not a poll. */
    s->poll_started = 0;
  }
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  if (s->on_event) {
    napi_delete_reference(s->env, s->on_event);
    s->on_event = NULL;
    count(&live_callbacks, -1);
  }
  if (s->async_context) {
    napi_async_destroy(s->env, s->async_context);
    s->async_context = NULL;
  }
  if (s->cleanup_hook) {
    napi_remove_async_cleanup_hook(s->cleanup_hook);
    s->cleanup_hook = NULL;
  }
  if (s->poll_ready) {
    s->poll_ready = 0;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  }
  if (s->async_ready) {
    s->async_ready = 0;
    uv_close((uv_handle_t *)&s->async, on_handle_closed);
  }
}

/* The environment is torn down (a worker terminated, the process exiting) while the socket is open. */
static void on_teardown(napi_async_cleanup_hook_handle handle, void *argument) {
  icmp_socket_t *s = argument;
  s->cleanup_hook = NULL; /* It ran: nothing to remove any more. */
  count(&teardowns, 1);
  if (s->handles_open == 0) {
    close_socket(s);
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  s->teardown = handle;
  close_socket(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  close_socket(data);
  release(data);
}

/* ---- arguments ------------------------------------------------------------------------------------------------ */

static bool get_bool(napi_env env, napi_value value, const char *name, bool *out) {
  return expect_type(env, value, napi_boolean, name, "a boolean") && napi_get_value_bool(env, value, out) == napi_ok;
}

static bool get_buffer(napi_env env, napi_value value, const char *name, uint8_t **data, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return throw_type(env, name, "a Buffer");
  void *bytes = NULL;
  if (napi_get_buffer_info(env, value, &bytes, length) != napi_ok) return throw_type(env, name, "a Buffer");
  *data = bytes;
  return true;
}

static bool get_family(napi_env env, napi_value value, int *family) {
  int64_t number;
  if (!get_integer(env, value, "family", 4, 6, &number)) return false;
  if (number == 5) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "icmp-socket: family must be 4 or 6");
    return false;
  }
  *family = (int)number;
  return true;
}

/* An address of `family` as text: 1 read into `out`, 0 not such an address (no exception), -1 not a string (thrown). */
static int read_address(napi_env env, napi_value value, int family, uint8_t *out) {
  if (!expect_type(env, value, napi_string, "address", "a string")) return -1;
  char text[ADDRESS_TEXT_BYTES];
  size_t length = 0;
  if (napi_get_value_string_latin1(env, value, NULL, 0, &length) != napi_ok) return -1;
  if (length >= sizeof text) return 0;
  if (napi_get_value_string_latin1(env, value, text, sizeof text, &length) != napi_ok) return -1;
  return inet_pton(family == 4 ? AF_INET : AF_INET6, text, out) == 1;
}

/* The socket a method is called on, with its arguments; NULL with a TypeError when `this` is not an IcmpSocket. */
static icmp_socket_t *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok || !data) {
    throw_type(env, "this", "an IcmpSocket");
    return NULL;
  }
  return data;
}

/* ---- methods -------------------------------------------------------------------------------------------------- */

/*
 * Construction failed after `s` was allocated: close what was opened (close_socket knows how far it got) and free it
 * now, or when its handles' close callbacks have run.
 */
static napi_value abandon(icmp_socket_t *s) {
  close_socket(s);
  if (s->holders == 0) free_socket(s);
  return NULL;
}

/*
 * new IcmpSocket(family, identifier, receives, onEvent, mode): identifier -1 for no identifier filter; mode 'raw'
 * (the default, when undefined) or 'ping' (a ping socket: the identifier is the kernel's, and no filter is needed).
 */
static napi_value construct(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], self, new_target;
  CHECK(napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  CHECK(napi_get_new_target(env, info, &new_target));
  if (!new_target) {
    napi_throw_type_error(env, "ERR_CONSTRUCT_CALL_REQUIRED", "icmp-socket: IcmpSocket must be called with new");
    return NULL;
  }
  int family;
  int64_t identifier;
  bool receives;
  if (!get_family(env, argv[0], &family) || !get_integer(env, argv[1], "identifier", -1, 0xffff, &identifier) ||
      !get_bool(env, argv[2], "receives", &receives) ||
      !expect_type(env, argv[3], napi_function, "onEvent", "a function")) {
    return NULL;
  }
  bool ping = false;
  napi_valuetype mode_type = napi_undefined;
  CHECK(napi_typeof(env, argv[4], &mode_type));
  if (mode_type != napi_undefined) {
    char mode[8];
    size_t mode_length = 0;
    if (!expect_type(env, argv[4], napi_string, "mode", "'raw' or 'ping'")) return NULL;
    CHECK(napi_get_value_string_latin1(env, argv[4], mode, sizeof mode, &mode_length));
    if (strcmp(mode, "ping") == 0) {
      ping = true;
    } else if (strcmp(mode, "raw") != 0) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "icmp-socket: mode must be 'raw' or 'ping'");
      return NULL;
    }
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));

  /* A ping socket: EACCES when the process's group is outside net.ipv4.ping_group_range (the default, "1 0", covers
     none); a raw socket: EPERM without CAP_NET_RAW in the socket's network namespace. */
  int fd = socket(family == 4 ? AF_INET : AF_INET6, (ping ? SOCK_DGRAM : SOCK_RAW) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6);
  if (fd < 0) return throw_errno(env, ping ? "socket (ping)" : "socket (raw)", errno);

  /* Best effort: without the larger buffers, IP_RECVERR or the kernel's type filter the socket still works. */
  int send_bytes = 4 * 1024 * 1024, receive_bytes = 16 * 1024 * 1024;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &send_bytes, sizeof send_bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_bytes, sizeof send_bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_bytes, sizeof receive_bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_bytes, sizeof receive_bytes);

  /* ENOBUFS reported, not hidden (see the top of this file), on a socket that reads, and so empties, its errors;
     on a ping socket, the ICMP errors themselves (without it they would only set the socket's pending error). */
  int on = receives;
  if (family == 4)
    setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  else
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);

  /* The kernel's own type filter first: echo replies and the errors a sweep reads, or nothing at all. A ping socket
     has neither filter: the kernel hands it only the replies and errors about its own requests. */
  if (ping) {
    /* nothing to filter */
  } else if (family == 4) {
    uint32_t pass = receives ? (1u << 0) | (1u << 3) | (1u << 11) | (1u << 12) : 0;
    uint32_t blocked = ~pass;
    setsockopt(fd, SOL_RAW_LEVEL, ICMP_FILTER_OPTION, &blocked, sizeof blocked);
  } else {
    uint32_t blocked[8];
    memset(blocked, 0xff, sizeof blocked);
    if (receives) {
      const int types[] = {1, 2, 3, 4, 129};
      for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) blocked[types[i] >> 5] &= ~(1u << (types[i] & 31));
    }
    setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER_OPTION, blocked, sizeof blocked);
  }
  if (!ping && receives && identifier >= 0) {
    int attached = family == 4 ? attach_filter_v4(fd, (uint16_t)identifier) : attach_filter_v6(fd, (uint16_t)identifier);
    if (attached < 0) {
      int error = errno;
      close(fd);
      return throw_errno(env, "SO_ATTACH_FILTER", error);
    }
  }

  icmp_socket_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    napi_throw_error(env, NULL, "icmp-socket: out of memory");
    return NULL;
  }
  count(&live_sockets, 1);
  s->fd = fd;
  s->family = family;
  s->ping = ping;
  s->env = env;
  for (int i = 0; i < ECHO_BYTES; i++) s->request[i] = (uint8_t)i;
  s->request[0] = family == 4 ? 8 : 128;
  s->request[1] = 0;
  s->request[4] = (uint8_t)((uint32_t)identifier >> 8);
  s->request[5] = (uint8_t)identifier;
  for (int i = 0; i < MAX_BATCH; i++) {
    s->messages[i].msg_hdr.msg_iov = &s->vectors[i];
    s->messages[i].msg_hdr.msg_iovlen = 1;
    s->messages[i].msg_hdr.msg_name = &s->names[i];
  }
  for (int i = 0; i < SEND_BATCH; i++) {
    s->batch_vectors[i].iov_base = s->batch_packets[i];
    s->batch_vectors[i].iov_len = ECHO_BYTES;
    s->batch_messages[i].msg_hdr.msg_iov = &s->batch_vectors[i];
    s->batch_messages[i].msg_hdr.msg_iovlen = 1;
    s->batch_messages[i].msg_hdr.msg_name = &s->batch_names[i];
  }
  s->faulted_packet = SEND_BATCH;

  /* Each step below is undone by close_socket if a later one fails (abandon). */
  int result = fault(FAULT_MUTEX) ? EAGAIN : pthread_mutex_init(&s->lock, NULL);
  if (result != 0) {
    throw_errno(env, "pthread_mutex_init", result);
    return abandon(s);
  }
  s->lock_ready = 1;
  result = fault(FAULT_COND) ? EAGAIN : pthread_cond_init(&s->wake, NULL);
  if (result != 0) {
    throw_errno(env, "pthread_cond_init", result);
    return abandon(s);
  }
  s->wake_ready = 1;

  napi_value resource_name;
  if (fault(FAULT_REFERENCE) || napi_create_reference(env, argv[3], 1, &s->on_event) != napi_ok) {
    napi_throw_error(env, NULL, "icmp-socket: could not hold on to the event callback");
    return abandon(s);
  }
  count(&live_callbacks, 1);
  if (napi_create_string_utf8(env, "ZenSweepIcmpSocket", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &s->async_context) != napi_ok) {
    s->async_context = NULL;
    napi_throw_error(env, NULL, "icmp-socket: could not set up the socket's events");
    return abandon(s);
  }

  result = fault(FAULT_POLL_INIT) ? UV_EBADF : uv_poll_init_socket(loop, &s->poll, fd);
  if (result < 0) {
    throw_errno(env, "uv_poll_init_socket", -result);
    return abandon(s);
  }
  s->poll.data = s;
  s->poll_ready = 1;
  s->handles_open += 1;
  s->holders += 1;

  result = fault(FAULT_ASYNC_INIT) ? UV_EINVAL : uv_async_init(loop, &s->async, on_async);
  if (result < 0) {
    throw_errno(env, "uv_async_init", -result);
    return abandon(s);
  }
  s->async.data = s;
  s->async_ready = 1;
  s->handles_open += 1;
  s->holders += 1;
  /* The sender's wake-ups alone do not keep the process alive; outstanding echoes have timers that do. */
  uv_unref((uv_handle_t *)&s->async);

  if (fault(FAULT_CLEANUP_HOOK) || napi_add_async_cleanup_hook(env, on_teardown, s, &s->cleanup_hook) != napi_ok) {
    s->cleanup_hook = NULL;
    napi_throw_error(env, NULL, "icmp-socket: could not register the socket's teardown");
    return abandon(s);
  }

  if (fault(FAULT_WRAP) || napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "icmp-socket: napi_wrap failed");
    return abandon(s);
  }
  s->holders += 1;
  return self;
}

/* watch(readable, writable) */
static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  bool readable, writable;
  if (!get_bool(env, argv[0], "readable", &readable) || !get_bool(env, argv[1], "writable", &writable)) return NULL;
  s->poll_events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  int result = apply_poll(s);
  if (result < 0) return throw_errno(env, "uv_poll_start", -result);
  return NULL;
}

/* send(packet, address) → 0, or the errno of the failed sendto (EAGAIN when the socket buffer is full). */
static napi_value send_now(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint8_t *data;
  size_t length;
  uint8_t address[16];
  if (!get_buffer(env, argv[0], "packet", &data, &length)) return NULL;
  int readable = read_address(env, argv[1], s->family, address);
  if (readable < 0) return NULL;
  int error = 0;
  if (s->closed) {
    error = EBADF;
  } else if (!readable) {
    error = EINVAL;
  } else {
    struct sockaddr_in6 to;
    socklen_t to_length = fill_address(s->family, address, &to);
    error = send_packet(s, data, length, &to, to_length);
  }
  CHECK(napi_create_int32(env, error, &result));
  return result;
}

/* What the error queue says of message `i` (a ping socket's): its kind, the error, the offender, the destination. */
static void error_meta(icmp_socket_t *s, int i, uint8_t *entry) {
  struct msghdr *header = &s->messages[i].msg_hdr;
  entry[META_KIND] = META_LOCAL_ERROR;
  int level = s->family == 4 ? SOL_IP : SOL_IPV6, type = s->family == 4 ? IP_RECVERR : IPV6_RECVERR;
  size_t address_bytes = s->family == 4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(header); c; c = CMSG_NXTHDR(header, c)) {
    if (c->cmsg_level != level || c->cmsg_type != type || c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err))) continue;
    struct sock_extended_err error;
    memcpy(&error, CMSG_DATA(c), sizeof error);
    int icmp = error.ee_origin == SO_EE_ORIGIN_ICMP || error.ee_origin == SO_EE_ORIGIN_ICMP6;
    entry[META_KIND] = icmp ? META_ICMP_ERROR : META_LOCAL_ERROR;
    entry[21] = error.ee_type;
    entry[22] = error.ee_code;
    entry[23] = error.ee_origin;
    memcpy(entry + 24, &error.ee_errno, 4);
    memcpy(entry + 28, &error.ee_info, 4);
    /* The offender (SO_EE_OFFENDER) follows the error; only an ICMP error's names someone. */
    if (icmp && c->cmsg_len >= CMSG_LEN(sizeof error + address_bytes)) {
      struct sockaddr_in6 offender;
      memcpy(&offender, CMSG_DATA(c) + sizeof error, address_bytes);
      if (s->family == 4 && offender.sin6_family == AF_INET)
        memcpy(entry + 4, &((struct sockaddr_in *)&offender)->sin_addr, 4);
      else if (s->family == 6 && offender.sin6_family == AF_INET6)
        memcpy(entry + 4, &offender.sin6_addr, 16);
    }
    break;
  }
  /* msg_name: where the request the error is about was sent. */
  if (header->msg_namelen >= address_bytes) {
    if (s->family == 4)
      memcpy(entry + META_DESTINATION, &((struct sockaddr_in *)&s->names[i])->sin_addr, 4);
    else
      memcpy(entry + META_DESTINATION, &s->names[i].sin6_addr, 16);
  }
}

/*
 * One recvmmsg of at most `wanted` messages into slots `first` on, of the receive queue or (MSG_ERRQUEUE) of the
 * error queue, with their meta. The count read (0 when none is queued), or -errno: a pending error (IP_RECVERR: an ICMP
 * error sets one as it queues it, and a read of the receive queue reports it before any packet) among them.
 */
static int read_batch(icmp_socket_t *s, uint8_t *buffer, uint8_t *meta, size_t first, size_t wanted, int flags) {
  for (size_t i = 0; i < wanted; i++) {
    s->vectors[i].iov_base = buffer + (first + i) * SLOT_BYTES;
    s->vectors[i].iov_len = SLOT_BYTES;
    s->messages[i].msg_hdr.msg_namelen = sizeof s->names[i];
    s->messages[i].msg_hdr.msg_flags = 0;
    s->messages[i].msg_hdr.msg_control = (flags & MSG_ERRQUEUE) ? s->controls[i] : NULL;
    s->messages[i].msg_hdr.msg_controllen = (flags & MSG_ERRQUEUE) ? CONTROL_BYTES : 0;
  }
  int read;
  while ((read = recvmmsg(s->fd, s->messages, (unsigned)wanted, flags | MSG_DONTWAIT, NULL)) < 0 && errno == EINTR) {
  }
  if (read < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
  for (int i = 0; i < read; i++) {
    uint32_t length = s->messages[i].msg_len;
    uint8_t *entry = meta + (first + (size_t)i) * META_BYTES;
    memset(entry, 0, META_BYTES);
    memcpy(entry, &length, 4);
    if (flags & MSG_ERRQUEUE) {
      error_meta(s, i, entry);
    } else if (s->family == 4) {
      memcpy(entry + 4, &((struct sockaddr_in *)&s->names[i])->sin_addr, 4);
    } else {
      memcpy(entry + 4, &s->names[i].sin6_addr, 16);
    }
  }
  return read;
}

/*
 * A ping socket's read: its error queue first (which also clears the pending error the errors set), then its
 * replies. An error that arrives between the two makes the second read fail (its pending error): the queue is read
 * again, at most 1024 times in a row.
 */
static int receive_ping(icmp_socket_t *s, uint8_t *buffer, uint8_t *meta, size_t slots) {
  size_t done = 0;
  for (int rounds = 0; done < slots; rounds++) {
    int errors = read_batch(s, buffer, meta, done, slots - done, MSG_ERRQUEUE);
    if (errors < 0) return done > 0 ? (int)done : errors;
    done += (size_t)errors;
    if (done == slots) break;
    int packets = read_batch(s, buffer, meta, done, slots - done, 0);
    if (packets >= 0) {
      done += (size_t)packets;
      break;
    }
    if (rounds >= 1024) return done > 0 ? (int)done : packets;
  }
  return (int)done;
}

/*
 * receive(buffer, meta) → how many packets were read (0 when none is queued). Packet i is at buffer offset
 * i × SLOT_BYTES; its meta at i × META_BYTES (see META_BYTES): a raw socket's are all packets, a ping socket's are
 * replies (without IP header) and what its error queue held (the quoted request, with the error in its meta).
 * At most as many as both buffers have room for (and MAX_BATCH). A negative result is -errno.
 */
static napi_value receive(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint8_t *buffer, *meta;
  size_t buffer_length, meta_length;
  if (!get_buffer(env, argv[0], "buffer", &buffer, &buffer_length) || !get_buffer(env, argv[1], "meta", &meta, &meta_length))
    return NULL;
  size_t slots = buffer_length / SLOT_BYTES;
  if (meta_length / META_BYTES < slots) slots = meta_length / META_BYTES;
  if (slots > MAX_BATCH) slots = MAX_BATCH;
  int count_read = 0;
  if (!s->closed && slots > 0 && s->ping) {
    count_read = receive_ping(s, buffer, meta, slots);
  } else if (!s->closed && slots > 0) {
    /* A pending error (IP_RECVERR: each ICMP error quoting an ICMP packet sets one, and recvmmsg reports it before
       any packet) is cleared and the read tried again, for as long as errors keep coming; the packets are all read,
       the ICMP errors among them. Only a socket that fails again and again is given up on (-errno). */
    for (int errors = 0;;) {
      count_read = read_batch(s, buffer, meta, 0, slots, 0);
      if (count_read >= 0) break;
      if (++errors > 1024 || !clear_errors(s->fd)) break;
    }
  }
  CHECK(napi_create_int32(env, count_read, &result));
  return result;
}

/* startSender(token) → true once the sender thread runs (false when it cannot start: the caller sends itself). */
static napi_value start_sender(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  uint8_t *token;
  size_t token_length;
  if (!get_buffer(env, argv[0], "token", &token, &token_length)) return NULL;
  if (token_length < TOKEN_BYTES) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "icmp-socket: token must be at least 8 bytes");
    return NULL;
  }
  if (!s->thread_running && !s->closed) {
    memcpy(s->request + 8, token, TOKEN_BYTES);
    if (!s->ring) {
      s->ring = fault(FAULT_RING) ? NULL : calloc(1024, sizeof *s->ring);
      if (s->ring) {
        s->ring_capacity = 1024;
        count(&live_rings, 1);
      }
    }
    if (s->ring) {
      int created = fault(FAULT_THREAD) ? EAGAIN : pthread_create(&s->thread, NULL, sender_main, s);
      if (created == 0) {
        s->thread_running = 1;
        count(&live_threads, 1);
      } else {
        /* No thread to serve it: the ring goes, or it would wait for the socket's end unused. */
        free(s->ring);
        s->ring = NULL;
        s->ring_capacity = 0;
        count(&live_rings, -1);
      }
    }
  }
  CHECK(napi_get_boolean(env, s->thread_running, &result));
  return result;
}

/*
 * order(sequence, probeNumber, address, limit) → the orders not yet sent, this one included; -1 when refused: no
 * sender thread, a bad address, or `limit` orders already waiting (the caller then sends it itself).
 */
static napi_value order(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  icmp_socket_t *s = unwrap(env, info, &argc, argv);
  if (!s) return NULL;
  int64_t sequence, probe, limit;
  order_t entry;
  if (!get_integer(env, argv[0], "sequence", 0, 0xffff, &sequence) ||
      !get_integer(env, argv[1], "probeNumber", 0, 0xffffffffLL, &probe) ||
      !get_integer(env, argv[3], "limit", 0, MAX_ORDERS, &limit)) {
    return NULL;
  }
  int readable = read_address(env, argv[2], s->family, entry.address);
  if (readable < 0) return NULL;
  int64_t waiting = -1;
  if (s->thread_running && readable) {
    entry.sequence = (uint16_t)sequence;
    entry.probe = (uint32_t)probe;
    lock(s);
    if ((int64_t)s->ring_count + s->in_hand < limit) {
      if (s->ring_count == s->ring_capacity) {
        /* Grown in 64-bit arithmetic, never past MAX_ORDERS (the largest `limit`): when it cannot grow, refused. */
        uint64_t capacity = (uint64_t)s->ring_capacity * 2;
        order_t *grown = capacity <= MAX_ORDERS ? malloc((size_t)capacity * sizeof *grown) : NULL;
        if (grown) {
          for (uint32_t i = 0; i < s->ring_count; i++) grown[i] = s->ring[(s->ring_head + i) % s->ring_capacity];
          free(s->ring);
          s->ring = grown;
          s->ring_capacity = (uint32_t)capacity;
          s->ring_head = 0;
        }
      }
      if (s->ring_count < s->ring_capacity) {
        s->ring[(s->ring_head + s->ring_count) % s->ring_capacity] = entry;
        s->ring_count += 1;
        if (s->ring_count == 1) must(pthread_cond_signal(&s->wake), "pthread_cond_signal failed");
        waiting = (int64_t)s->ring_count + s->in_hand;
      }
    }
    unlock(s);
  }
  CHECK(napi_create_int64(env, waiting, &result));
  return result;
}

/*
 * takeSenderEvents() → [sequence, probeNumber, errno, sequence, probeNumber, errno, …]: the orders whose send failed
 * since the last call; errno 0 for an order given back untried when the kernel was short of buffers.
 */
static napi_value take_sender_events(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  icmp_socket_t *s = unwrap(env, info, &argc, NULL);
  if (!s) return NULL;
  napi_value result, value;
  if (!s->lock_ready) {
    CHECK(napi_create_array(env, &result));
    return result;
  }
  /* Under the lock, without a copy: the thread waits for these few calls rather than an error being dropped. */
  lock(s);
  uint32_t taken = s->error_count;
  bool made = napi_create_array_with_length(env, (size_t)taken * 3, &result) == napi_ok;
  for (uint32_t i = 0; made && i < taken; i++) {
    made = napi_create_uint32(env, s->errors[i].sequence, &value) == napi_ok &&
           napi_set_element(env, result, 3 * i, value) == napi_ok &&
           napi_create_uint32(env, s->errors[i].probe, &value) == napi_ok &&
           napi_set_element(env, result, 3 * i + 1, value) == napi_ok &&
           napi_create_int32(env, s->errors[i].error, &value) == napi_ok &&
           napi_set_element(env, result, 3 * i + 2, value) == napi_ok;
  }
  if (made) s->error_count = 0;
  unlock(s);
  if (!made) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, NULL, "icmp-socket: could not make the array of send errors");
    return NULL;
  }
  return result;
}

static napi_value close_method(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  icmp_socket_t *s = unwrap(env, info, &argc, NULL);
  if (s) close_socket(s);
  return NULL;
}

/* addressText(meta, index, family) → the source address of packet `index` as text (see receive). */
static napi_value address_text(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *meta;
  size_t meta_length;
  int64_t index;
  int family;
  if (!get_buffer(env, argv[0], "meta", &meta, &meta_length)) return NULL;
  uint64_t entries = meta_length / META_BYTES;
  if (entries == 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "icmp-socket: meta holds no packet");
    return NULL;
  }
  if (!get_integer(env, argv[1], "index", 0, (int64_t)(entries - 1), &index) ||
      !get_family(env, argv[2], &family)) {
    return NULL;
  }
  uint64_t offset = (uint64_t)index * META_BYTES + 4;
  char text[INET6_ADDRSTRLEN] = "";
  if (offset + (family == 4 ? 4 : 16) > meta_length) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "icmp-socket: index is past the end of meta");
    return NULL;
  }
  if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, meta + offset, text, sizeof text)) text[0] = '\0';
  CHECK(napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &result));
  return result;
}

/*
 * stats() → { sockets, rings, threads, callbacks, teardowns }: what every socket of the process still holds, and how
 * many an environment's teardown closed (for tests).
 */
static napi_value stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(napi_create_object(env, &result));
  if (!set_count(env, result, "sockets", &live_sockets) || !set_count(env, result, "rings", &live_rings) ||
      !set_count(env, result, "threads", &live_threads) || !set_count(env, result, "callbacks", &live_callbacks) ||
      !set_count(env, result, "teardowns", &teardowns)) {
    napi_throw_error(env, NULL, "icmp-socket: could not make the stats");
    return NULL;
  }
  return result;
}

/* injectFault(name): the next time the process reaches that step, it fails as the system could make it (for tests). */
static napi_value inject_fault(napi_env env, napi_callback_info info) {
  return inject_named_fault(env, info, FAULT_NAMES, (int)(sizeof FAULT_NAMES / sizeof FAULT_NAMES[0]), &injected_fault);
}

/* ---- the neighbour table -------------------------------------------------------------------------------------- */

/*
 * One entry of the Buffer `neighbours` returns, NEIGHBOUR_BYTES each: family (4 or 6) at 0; the link-layer address's
 * length at 1 (0: none); ndm_state (NUD_*, u16 little-endian) at 2; the interface index (u32 little-endian) at 4; the
 * address (4 or 16 bytes) at 8; the link-layer address at 24 (at most MAX_LLADDR bytes: the kernel's MAX_ADDR_LEN).
 */
#define NEIGHBOUR_BYTES 56
#define MAX_LLADDR 32
/* Entries one read returns at most (56 MiB): far past any table the kernel keeps (gc_thresh3, 1,024 by default). */
#define MAX_NEIGHBOURS (1u << 20)
/* A netlink dump's parts are at most 32 KiB (the kernel's cap on what one recvmsg asks for): one part per read. */
#define DUMP_PART_BYTES 32768

typedef struct {
  uint8_t *bytes;
  uint32_t count;
  uint32_t capacity;
} neighbour_list_t;

/* Room for one more entry, grown in 64-bit arithmetic up to MAX_NEIGHBOURS: 0, or ENOMEM / EOVERFLOW. */
static int neighbour_room(neighbour_list_t *list) {
  if (list->count < list->capacity) return 0;
  uint64_t capacity = list->capacity ? (uint64_t)list->capacity * 2 : 256;
  if (capacity > MAX_NEIGHBOURS) capacity = MAX_NEIGHBOURS;
  if (capacity <= list->count) return EOVERFLOW;
  uint8_t *grown = fault(FAULT_NEIGHBOUR_LIST) ? NULL : realloc(list->bytes, (size_t)capacity * NEIGHBOUR_BYTES);
  if (!grown) return ENOMEM;
  list->bytes = grown;
  list->capacity = (uint32_t)capacity;
  return 0;
}

/*
 * One RTM_NEWNEIGH message of `length` bytes (its header included, checked by the caller) into the list. Entries
 * of other families (the bridge's), and entries without a destination of the family's size, are skipped. 0, or the
 * errno of a failure to make room.
 */
static int add_neighbour(neighbour_list_t *list, const uint8_t *message, uint32_t length) {
  if (length < NLMSG_LENGTH(sizeof(struct ndmsg))) return 0;
  struct ndmsg header;
  memcpy(&header, message + NLMSG_HDRLEN, sizeof header);
  int family = header.ndm_family == AF_INET ? 4 : header.ndm_family == AF_INET6 ? 6 : 0;
  if (!family) return 0;
  const uint8_t *address = NULL, *lladdr = NULL;
  size_t lladdr_length = 0;
  /* The attributes follow the aligned ndmsg; each length is checked against what is left before it is used. */
  size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ndmsg));
  while (at + sizeof(struct rtattr) <= length) {
    struct rtattr attribute;
    memcpy(&attribute, message + at, sizeof attribute);
    if (attribute.rta_len < sizeof attribute || attribute.rta_len > length - at) break;
    const uint8_t *payload = message + at + RTA_LENGTH(0);
    size_t payload_length = attribute.rta_len - RTA_LENGTH(0);
    if (attribute.rta_type == NDA_DST && payload_length == (family == 4 ? 4u : 16u)) address = payload;
    if (attribute.rta_type == NDA_LLADDR && payload_length <= MAX_LLADDR) {
      lladdr = payload;
      lladdr_length = payload_length;
    }
    at += RTA_ALIGN(attribute.rta_len);
  }
  if (!address) return 0;
  int error = neighbour_room(list);
  if (error) return error;
  uint8_t *entry = list->bytes + (size_t)list->count * NEIGHBOUR_BYTES;
  memset(entry, 0, NEIGHBOUR_BYTES);
  entry[0] = (uint8_t)family;
  entry[1] = (uint8_t)lladdr_length;
  entry[2] = (uint8_t)header.ndm_state;
  entry[3] = (uint8_t)(header.ndm_state >> 8);
  uint32_t ifindex = (uint32_t)header.ndm_ifindex;
  for (int i = 0; i < 4; i++) entry[4 + i] = (uint8_t)(ifindex >> (8 * i));
  memcpy(entry + 8, address, family == 4 ? 4 : 16);
  if (lladdr_length) memcpy(entry + 24, lladdr, lladdr_length);
  list->count += 1;
  return 0;
}

/*
 * Dumps the neighbour table of this process's network namespace (family 0: ARP and ND together) into `list`: one
 * netlink socket, opened and closed here, one request, its parts read until NLMSG_DONE. 0, or the errno of the first
 * failure (EPROTO for a reply that is not a dump's); every path closes the socket and frees the part buffer.
 */
static int dump_neighbours(int family, neighbour_list_t *list) {
  const uint32_t sequence = 1;
  struct {
    struct nlmsghdr header;
    struct ndmsg message;
  } request;
  memset(&request, 0, sizeof request);
  request.header.nlmsg_len = NLMSG_LENGTH(sizeof request.message);
  request.header.nlmsg_type = RTM_GETNEIGH;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = sequence;
  request.message.ndm_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  /* The kernel writes a dump's parts as they are read: a read that waits 2 s has met a kernel that will not answer. */
  struct timeval patience = {.tv_sec = 2, .tv_usec = 0};
  int error = 0;
  uint8_t *part = NULL;

  int fd = fault(FAULT_NETLINK) ? (errno = EMFILE, -1) : socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return errno;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) < 0) {
    error = errno;
    goto done;
  }
  part = malloc(DUMP_PART_BYTES);
  error = neighbour_room(list);
  if (!part && !error) error = ENOMEM;
  if (error) goto done;

  for (;;) {
    ssize_t sent = fault(FAULT_NETLINK_SEND) ? (errno = ENOBUFS, -1)
                                             : sendto(fd, &request, request.header.nlmsg_len, 0, (struct sockaddr *)&kernel,
                                                      sizeof kernel);
    if (sent >= 0) break;
    if (errno != EINTR) {
      error = errno;
      goto done;
    }
  }

  for (bool finished = false; !finished;) {
    struct sockaddr_nl from;
    struct iovec vector = {.iov_base = part, .iov_len = DUMP_PART_BYTES};
    struct msghdr header = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &vector, .msg_iovlen = 1};
    ssize_t received = fault(FAULT_NETLINK_RECEIVE) ? (errno = EIO, -1) : recvmsg(fd, &header, 0);
    if (received < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    if (received == 0 || (header.msg_flags & MSG_TRUNC)) {
      error = EPROTO;
      break;
    }
    /* Only the kernel (port 0) writes to this socket; anything else is not part of the dump. */
    if (header.msg_namelen < sizeof from || from.nl_pid != 0) continue;
    size_t length = (size_t)received;
    for (size_t at = 0; !finished && at + NLMSG_HDRLEN <= length;) {
      struct nlmsghdr message;
      memcpy(&message, part + at, sizeof message);
      if (message.nlmsg_len < sizeof message || message.nlmsg_len > length - at) {
        error = EPROTO;
        finished = true;
        break;
      }
      if (message.nlmsg_seq == sequence) {
        if (message.nlmsg_type == NLMSG_DONE || message.nlmsg_type == NLMSG_ERROR) {
          /* Both carry an error number first (NLMSG_DONE: the dump's own, 0 when it went well; NLMSG_ERROR: 0 is an
             acknowledgement, which a dump does not ask for). */
          int32_t status = message.nlmsg_type == NLMSG_DONE ? 0 : -EPROTO;
          if (message.nlmsg_len >= NLMSG_LENGTH(sizeof status)) memcpy(&status, part + at + NLMSG_HDRLEN, sizeof status);
          if (status < 0) error = status == INT32_MIN ? EPROTO : -status;
          else if (message.nlmsg_type == NLMSG_ERROR) error = EPROTO;
          finished = true;
        } else if (message.nlmsg_type == RTM_NEWNEIGH) {
          error = add_neighbour(list, part + at, message.nlmsg_len);
          if (error) finished = true;
        }
      }
      at += NLMSG_ALIGN(message.nlmsg_len);
    }
  }

done:
  free(part);
  close(fd);
  return error;
}

/*
 * neighbours(family) → a Buffer of NEIGHBOUR_BYTES per entry of this network namespace's neighbour table: family 4
 * (ARP), 6 (neighbour discovery) or 0 (both, one dump). Throws an Error with `errno` when the kernel cannot be read.
 */
static napi_value neighbours(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t family;
  if (!get_integer(env, argv[0], "family", 0, 6, &family)) return NULL;
  if (family != 0 && family != 4 && family != 6) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "icmp-socket: family must be 0, 4 or 6");
    return NULL;
  }
  neighbour_list_t list = {NULL, 0, 0};
  int error = dump_neighbours((int)family, &list);
  if (error) {
    throw_errno(env, "the neighbour table (netlink RTM_GETNEIGH)", error);
  } else {
    size_t bytes = (size_t)list.count * NEIGHBOUR_BYTES;
    /* An empty table is an empty Buffer (a copy of 0 bytes from nowhere is not asked of Node). */
    napi_status made = bytes == 0 ? napi_create_buffer(env, 0, NULL, &result)
                                  : napi_create_buffer_copy(env, bytes, list.bytes, NULL, &result);
    if (made != napi_ok) {
      result = NULL;
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (!pending) napi_throw_error(env, NULL, "icmp-socket: could not make the buffer of neighbours");
    }
  }
  free(list.bytes);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"watch", NULL, watch, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, send_now, NULL, NULL, NULL, napi_default, NULL},
      {"receive", NULL, receive, NULL, NULL, NULL, napi_default, NULL},
      {"startSender", NULL, start_sender, NULL, NULL, NULL, napi_default, NULL},
      {"order", NULL, order, NULL, NULL, NULL, napi_default, NULL},
      {"takeSenderEvents", NULL, take_sender_events, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_method, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value constructor, function, constant;
  CHECK(napi_define_class(env, "IcmpSocket", NAPI_AUTO_LENGTH, construct, NULL, sizeof methods / sizeof methods[0],
                          methods, &constructor));
  CHECK(napi_set_named_property(env, exports, "IcmpSocket", constructor));
  CHECK(napi_create_function(env, "addressText", NAPI_AUTO_LENGTH, address_text, NULL, &function));
  CHECK(napi_set_named_property(env, exports, "addressText", function));
  CHECK(napi_create_function(env, "stats", NAPI_AUTO_LENGTH, stats, NULL, &function));
  CHECK(napi_set_named_property(env, exports, "stats", function));
  CHECK(napi_create_function(env, "injectFault", NAPI_AUTO_LENGTH, inject_fault, NULL, &function));
  CHECK(napi_set_named_property(env, exports, "injectFault", function));
  CHECK(napi_create_function(env, "neighbours", NAPI_AUTO_LENGTH, neighbours, NULL, &function));
  CHECK(napi_set_named_property(env, exports, "neighbours", function));
  CHECK(napi_create_uint32(env, SLOT_BYTES, &constant));
  CHECK(napi_set_named_property(env, exports, "SLOT_BYTES", constant));
  CHECK(napi_create_uint32(env, META_BYTES, &constant));
  CHECK(napi_set_named_property(env, exports, "META_BYTES", constant));
  CHECK(napi_create_uint32(env, MAX_BATCH, &constant));
  CHECK(napi_set_named_property(env, exports, "MAX_BATCH", constant));
  CHECK(napi_create_uint32(env, NEIGHBOUR_BYTES, &constant));
  CHECK(napi_set_named_property(env, exports, "NEIGHBOUR_BYTES", constant));
  /* TCP connects with their own error queues (tcp_connect.c). */
  CHECK(register_tcp_connect(env, exports));
  /* Ping and UDP probe sockets for trace and path MTU without privilege (probe_socket.c). */
  CHECK(register_probe_socket(env, exports));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
