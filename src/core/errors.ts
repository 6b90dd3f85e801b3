/**
 * Errors a user or a caller acts on. Each has a stable `code`; the message is one sentence that a person can act
 * on (it names the bad token and what would be valid), so it can go straight into a CLI line or a Slack reply.
 */
export class ZenSweepError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A target token that is not a CIDR, an address, a range or a host name. */
export class InvalidTargetError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_target', message, options);
  }
}

/** An option token (`key:value`) with an unknown key or a value out of range. */
export class InvalidOptionError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_option', message, options);
  }
}

/** The sweep would probe more addresses than the configured cap allows. */
export class SweepTooLargeError extends ZenSweepError {
  constructor(message: string) {
    super('sweep_too_large', message);
  }
}

/** Nothing to sweep: no target was given, or every target was empty. */
export class EmptySweepError extends ZenSweepError {
  constructor(message: string) {
    super('empty_sweep', message);
  }
}

/** A target lies outside the address space this process may probe. */
export class OutOfScopeError extends ZenSweepError {
  constructor(message: string) {
    super('out_of_scope', message);
  }
}

/** Invalid configuration (environment or flags): found once, at start. */
export class ConfigError extends ZenSweepError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('invalid_config', message, options);
  }
}

export function isZenSweepError(error: unknown): error is ZenSweepError {
  return error instanceof ZenSweepError;
}
