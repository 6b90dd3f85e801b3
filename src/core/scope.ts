/**
 * The networks someone may reach: an agent its own CIDRs (ZENSWEEP_CIDRS), a requester what the policy allows in one
 * agent group. One type for the bot, which decides with it, and the agent, which enforces it after resolving names.
 */
import { AddressSet, parseNetwork } from './targets.js';

export class Scope {
  private constructor(
    /** The networks as written (CIDRs, addresses, ranges); undefined: any address. */
    readonly cidrs: readonly string[] | undefined,
    private readonly set: AddressSet | undefined,
  ) {}

  /** No limit of its own: whatever else limits it (the agent's CIDRs) applies. */
  static readonly ANY = new Scope(undefined, undefined);

  /** The networks given; throws InvalidTargetError naming the first one that is not a CIDR, address or range. */
  static of(cidrs: readonly string[]): Scope {
    const set = new AddressSet();
    for (const cidr of cidrs) {
      const network = parseNetwork(cidr);
      set.add(network.family, network.start, network.end);
    }
    return new Scope([...cidrs], set);
  }

  /** The address families it holds (none for ANY, which holds any). */
  families(): Set<4 | 6> {
    return new Set((this.set?.ranges() ?? []).map((range) => range.family));
  }

  /** Whether it limits anything. */
  get limited(): boolean {
    return this.set !== undefined;
  }

  /** Whether every address of `addresses` lies inside. */
  covers(addresses: AddressSet): boolean {
    return this.set === undefined || this.set.covers(addresses);
  }

  /** Whether this one address (as AddressSet iterates it: `10.0.0.1`, `2001:db8::1`) lies inside. */
  contains(address: string): boolean {
    return this.set === undefined || this.set.contains(address);
  }

  /** The part of `addresses` inside. */
  within(addresses: AddressSet): AddressSet {
    return this.set === undefined ? addresses : addresses.intersect(this.set);
  }

  /** The part of `addresses` outside. */
  outside(addresses: AddressSet): AddressSet {
    return this.set === undefined ? new AddressSet() : addresses.subtract(this.set);
  }

  /** `10.0.0.0/16, 10.1.0.0/16`, or `any address`. */
  toString(): string {
    return this.cidrs === undefined ? 'any address' : this.cidrs.join(', ');
  }
}
