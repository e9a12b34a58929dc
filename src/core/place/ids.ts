/** Ids the place generates: lower-case letters a–y, like allonet's `allo_generate_id`. */
import { randomInt } from 'node:crypto'

export function generateId(length: number): string {
  let id = ''
  for (let i = 0; i < length; i++) id += String.fromCharCode(97 + randomInt(25))
  return id
}

export const entityId = () => generateId(10)
export const agentId = () => generateId(16)
export const animationId = () => generateId(8)
export const avatarToken = () => generateId(19)
