import { Flags } from '@oclif/core'

/**
 * The download-safety flags `assist fetch` and `assist upgrade` share: a size cap, a total-time cap
 * and the opt-out for mirrors that publish no checksum. `downloadLimits` turns them into the options
 * the core takes.
 */
export const downloadLimitFlags = {
  'max-size': Flags.integer({
    description: 'Refuse a download larger than this many MB',
    default: 64,
    min: 1,
  }),
  deadline: Flags.integer({
    description: 'Give up when one download takes longer than this many seconds in all',
    default: 600,
    min: 1,
  }),
  'allow-no-checksum': Flags.boolean({
    description:
      'Install even when the mirror publishes no <file>.sha256 (unverified; also ALLONET_ALLOW_NO_CHECKSUM=1)',
  }),
}

export function downloadLimits(flags: {
  'max-size': number
  deadline: number
  'allow-no-checksum': boolean
}): {
  maxBytes: number
  deadlineMs: number
  allowNoChecksum: boolean
} {
  return {
    maxBytes: flags['max-size'] * 1024 * 1024,
    deadlineMs: flags.deadline * 1000,
    allowNoChecksum: flags['allow-no-checksum'],
  }
}
