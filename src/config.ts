import { ConfigError } from './core/errors.js';
import { DEFAULT_MAX_ADDRESSES } from './core/grammar.js';
import { SWEEP_LIMITS } from './core/request.js';
import { MAX_OUTSTANDING_ECHOES } from './engine/icmp/echo-prober.js';
import type { IcmpSetting } from './engine/icmp/raw-transport.js';

/** Limits of the probe engine, from the environment. */
export interface EngineConfig {
  /** Most addresses in one sweep (ZENSWEEP_MAX_ADDRESSES), default 65,536. */
  maxAddresses: number;
  /**
   * Probes outstanding at once (ZENSWEEP_MAX_IN_FLIGHT), at most 60,000; default (undefined) sized from the rate and
   * the timeouts (engine.ts, inFlightBudget): 4096 at an unlimited rate, 31,250 at the defaults.
   */
  maxInFlight: number | undefined;
  /** Send echoes from a sender thread, on another core (ZENSWEEP_SEND_HELPER: auto, 1 or 0), default auto. */
  sendHelper: boolean | 'auto';
  /**
   * How ICMP echo is sent (ZENSWEEP_ICMP: auto, raw, ping or off), default auto: a raw socket where permitted (root
   * or CAP_NET_RAW), else a ping socket where net.ipv4.ping_group_range covers the process, else TCP probes only.
   */
  icmp: IcmpSetting;
}

const ICMP_SETTINGS: readonly IcmpSetting[] = ['auto', 'raw', 'ping', 'off'];

/** ZENSWEEP_ICMP, checked: auto (default), raw, ping or off; ConfigError in one sentence otherwise. */
export function icmpSetting(env: NodeJS.ProcessEnv): IcmpSetting {
  const text = env.ZENSWEEP_ICMP?.trim().toLowerCase();
  if (!text) return 'auto';
  const setting = ICMP_SETTINGS.find((value) => value === text);
  if (!setting) {
    throw new ConfigError(
      `ZENSWEEP_ICMP=${env.ZENSWEEP_ICMP ?? ''} is invalid: it takes auto (raw where permitted, else a ping socket), raw, ping or off`,
    );
  }
  return setting;
}

function integerVariable<F extends number | undefined>(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback: F): number | F {
  const text = env[name]?.trim();
  if (!text) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new ConfigError(`${name}=${text} is invalid: it takes a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

function switchVariable(env: NodeJS.ProcessEnv, name: string): boolean | 'auto' {
  const text = env[name]?.trim().toLowerCase();
  if (!text || text === 'auto') return 'auto';
  if (['1', 'true', 'on', 'yes'].includes(text)) return true;
  if (['0', 'false', 'off', 'no'].includes(text)) return false;
  throw new ConfigError(`${name}=${env[name]} is invalid: it takes auto, 1 or 0`);
}

/**
 * Reads and validates the engine's settings once; throws ConfigError with one readable sentence. (Kept free of a
 * schema library: `zensweep sweep` pays for every module it loads at start.)
 */
export function loadEngineConfig(env: NodeJS.ProcessEnv = process.env): Readonly<EngineConfig> {
  return Object.freeze({
    maxAddresses: integerVariable(env, 'ZENSWEEP_MAX_ADDRESSES', 1, SWEEP_LIMITS.addresses.max, DEFAULT_MAX_ADDRESSES),
    maxInFlight: integerVariable(env, 'ZENSWEEP_MAX_IN_FLIGHT', 1, MAX_OUTSTANDING_ECHOES, undefined),
    sendHelper: switchVariable(env, 'ZENSWEEP_SEND_HELPER'),
    icmp: icmpSetting(env),
  });
}
