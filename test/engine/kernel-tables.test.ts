import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lookupRoute, parseArp, parseResolvConf, parseRoutes4, parseRoutes6 } from '../../src/engine/diag/kernel-tables.js';

// As the kernel prints them (x86: words in little-endian order).
const ROUTE4 = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth1\t0000130A\tFE01130A\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0
eth1\t0005130A\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;
const ROUTE6 = `20010db8001900000000000000000000 30 00000000000000000000000000000000 00 20010db800190001000000000000fffe 00000400 00000001 00000000 00000003     eth0
20010db8001900010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
20010db8001900010000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
`;

describe('kernel tables', () => {
  it('reads IPv4 routes from /proc/net/route and picks the longest prefix, as ip route get does', () => {
    const routes = parseRoutes4(ROUTE4);
    assert.deepEqual(routes[0], { family: 4, destination: '0.0.0.0/0', prefix: 0, gateway: '192.0.2.1', device: 'eth0', metric: 100, reject: false });
    assert.equal(lookupRoute(routes, '192.0.2.77')?.device, 'eth0');
    assert.equal(lookupRoute(routes, '192.0.2.77')?.gateway, undefined, 'on the link');
    assert.equal(lookupRoute(routes, '10.19.3.4')?.gateway, '10.19.1.254');
    assert.equal(lookupRoute(routes, '10.19.5.4')?.reject, true, 'a reject route wins by its prefix');
    assert.equal(lookupRoute(routes, '8.8.8.8')?.destination, '0.0.0.0/0');
  });

  it('reads IPv6 routes, leaving out local addresses and multicast', () => {
    const routes = parseRoutes6(ROUTE6);
    assert.deepEqual(
      routes.map((r) => [r.destination, r.gateway, r.device]),
      [
        ['2001:db8:19::/48', '2001:db8:19:1::fffe', 'eth0'],
        ['2001:db8:19:1::/64', undefined, 'eth0'],
      ],
    );
    assert.equal(lookupRoute(routes, '2001:db8:19:20::10')?.gateway, '2001:db8:19:1::fffe');
  });

  it('reads the ARP table states and the resolvers', () => {
    const arp = parseArp(`IP address       HW type     Flags       HW address            Mask     Device
198.19.1.254     0x1         0x2         02:aa:bb:cc:dd:ee     *        eth0
198.19.1.9       0x1         0x0         00:00:00:00:00:00     *        eth0
198.19.1.8       0x1         0x6         02:aa:bb:cc:dd:01     *        eth0
`);
    assert.deepEqual(arp, [
      { address: '198.19.1.254', device: 'eth0', state: 'complete', lladdr: '02:aa:bb:cc:dd:ee' },
      { address: '198.19.1.9', device: 'eth0', state: 'incomplete' },
      { address: '198.19.1.8', device: 'eth0', state: 'permanent', lladdr: '02:aa:bb:cc:dd:01' },
    ]);
    assert.deepEqual(parseResolvConf('# x\nnameserver 10.0.0.2\nsearch lab\nnameserver fd00::53\n'), ['10.0.0.2', 'fd00::53']);
  });
});
