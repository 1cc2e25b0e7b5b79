// sd_notify(3): flanneld.service is Type=notify, so systemd starts Docker once subnet.env is written,
// as with flannel. The datagram is sent by the native addon (udp/native, target flannel_notify).
import { createRequire } from 'node:module';
import { errorMessage, FlannelError, type Logger } from '../common/index.js';
import { nativeAddonPath } from '../udp/index.js';

export class NotifyError extends FlannelError {
  readonly code = 'SD_NOTIFY';
  constructor(
    readonly socket: string,
    cause: unknown,
  ) {
    super(`sd_notify to ${socket} failed: ${errorMessage(cause)}`, { cause });
  }
}

const ADDON_FILE = nativeAddonPath('flannel_notify');

let addon: { notify(socket: string, state: string): void } | undefined;

/** Sends `state` to $NOTIFY_SOCKET; false when the process was not started by a notify-aware manager. */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return false;
  try {
    addon ??= createRequire(import.meta.url)(ADDON_FILE) as typeof addon;
    addon!.notify(socket, state);
  } catch (e) {
    throw new NotifyError(socket, e);
  }
  return true;
}

/** The daemon's notifier: a failure is logged, never fatal (flannel does the same). */
export function systemdNotifier(log: Logger): (state: string) => void {
  return (state) => {
    try {
      if (sdNotify(state)) log.info({ state }, 'notified systemd');
    } catch (e) {
      log.warn({ err: errorMessage(e), state }, 'could not notify systemd');
    }
  };
}
