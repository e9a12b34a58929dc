import { Flags } from '@oclif/core'

/**
 * The web view's flags that `assist place`, `assist run` and `assist view` share: its port, opening
 * it in a browser, and the extra host names it answers to (DNS-rebinding protection).
 */
export const webViewFlags = {
  'view-port': Flags.integer({
    description: 'TCP port of the web view on 127.0.0.1 (default: a free port)',
    min: 0,
    max: 65535,
  }),
  open: Flags.boolean({
    description: 'Open the web view in the default browser',
  }),
  'allowed-host': Flags.string({
    description:
      'Also answer the web view under this host name (repeatable); by default only localhost and IP addresses reach it (DNS-rebinding protection)',
    multiple: true,
  }),
}
