import { ConfigError, type NetworkConfig, renderNetworkConfig } from '../ipam/index.js';
import type { BackendFactory } from './types.js';

/** The backends a flanneld knows, built explicitly by main (no import-time registration). */
export class BackendRegistry {
  private readonly byType = new Map<string, BackendFactory<any>>();

  constructor(factories: readonly BackendFactory<any>[]) {
    for (const f of factories) this.byType.set(f.type, f);
  }

  types(): string[] {
    return [...this.byType.keys()];
  }

  /** The factory for the config's backend type, or a ConfigError naming Backend.Type. */
  get(cfg: NetworkConfig): BackendFactory<unknown> {
    const f = this.byType.get(cfg.backendType);
    if (!f) throw new ConfigError('Backend.Type', cfg.backendType, `unknown backend; known: ${this.types().join(', ')}`);
    return f;
  }

  /** Validates the backend part too, and returns flannel's JSON with every default filled in. */
  effectiveConfig(cfg: NetworkConfig): Record<string, unknown> {
    const f = this.get(cfg);
    return renderNetworkConfig(cfg, f.renderConfig(f.parseConfig(cfg.backend)));
  }
}
