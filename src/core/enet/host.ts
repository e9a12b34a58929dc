/** ENet host: socket, peer table, service loop. (Work in progress: the API is final, the body lands next.) */
import { EventEmitter } from 'node:events'
import type { EnetClientOptions, EnetHostEvents, EnetHostOptions, EnetPeer } from './index.js'

export class EnetHost extends EventEmitter<EnetHostEvents> {
  static async listen(_opts: EnetHostOptions): Promise<EnetHost> {
    throw new Error('EnetHost.listen: not implemented yet')
  }

  static async client(_opts: EnetClientOptions = {}): Promise<EnetHost> {
    throw new Error('EnetHost.client: not implemented yet')
  }

  get address(): { address: string; port: number } {
    throw new Error('not implemented yet')
  }

  connect(_host: string, _port: number, _channelCount: number, _data = 0): EnetPeer {
    throw new Error('not implemented yet')
  }

  flush(): void {}

  async close(): Promise<void> {}
}
