/**
 * Binary glTF 2.0 (.glb) fixtures written by us, byte by byte after the spec
 * (https://registry.khronos.org/glTF/specs/2.0/glTF-2.0.html#binary-gltf-layout): a 12-byte header
 * (magic "glTF", version 2, total length), a JSON chunk padded with spaces to 4 bytes, and a BIN
 * chunk padded with zeros, holding float32 positions and normals and uint16 indices.
 */

export interface GlbMesh {
  positions: number[][]
  normals: number[][]
  /** Triangles as index triples into positions. */
  triangles: number[][]
  /** Linear RGBA base colour of the one material. */
  color: [number, number, number, number]
}

const GLB_MAGIC = 0x46546c67 // "glTF"
const CHUNK_JSON = 0x4e4f534a // "JSON"
const CHUNK_BIN = 0x004e4942 // "BIN\0"
const FLOAT = 5126
const UNSIGNED_SHORT = 5123
const ARRAY_BUFFER = 34962
const ELEMENT_ARRAY_BUFFER = 34963

const pad4 = (n: number) => (4 - (n % 4)) % 4

export function encodeGlb(mesh: GlbMesh): Buffer {
  const count = mesh.positions.length
  if (mesh.normals.length !== count) throw new Error('one normal per position')
  const pos = Buffer.from(new Float32Array(mesh.positions.flat()).buffer)
  const nrm = Buffer.from(new Float32Array(mesh.normals.flat()).buffer)
  const idx = Buffer.from(new Uint16Array(mesh.triangles.flat()).buffer)
  const idxPadded = Buffer.concat([idx, Buffer.alloc(pad4(idx.length))])
  const bin = Buffer.concat([pos, nrm, idxPadded])
  const min = [0, 1, 2].map((k) => Math.min(...mesh.positions.map((p) => p[k])))
  const max = [0, 1, 2].map((k) => Math.max(...mesh.positions.map((p) => p[k])))
  const json = {
    asset: { version: '2.0', generator: 'allo-assist test/helpers/glb.ts' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0, name: 'fixture' }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0, NORMAL: 1 }, indices: 2, material: 0 }] }],
    materials: [
      { pbrMetallicRoughness: { baseColorFactor: mesh.color, metallicFactor: 0, roughnessFactor: 0.7 } },
    ],
    buffers: [{ byteLength: bin.length }],
    bufferViews: [
      { buffer: 0, byteOffset: 0, byteLength: pos.length, target: ARRAY_BUFFER },
      { buffer: 0, byteOffset: pos.length, byteLength: nrm.length, target: ARRAY_BUFFER },
      {
        buffer: 0,
        byteOffset: pos.length + nrm.length,
        byteLength: idx.length,
        target: ELEMENT_ARRAY_BUFFER,
      },
    ],
    accessors: [
      { bufferView: 0, componentType: FLOAT, count, type: 'VEC3', min, max },
      { bufferView: 1, componentType: FLOAT, count, type: 'VEC3' },
      { bufferView: 2, componentType: UNSIGNED_SHORT, count: idx.length / 2, type: 'SCALAR' },
    ],
  }
  const text = Buffer.from(JSON.stringify(json), 'utf8')
  const jsonChunk = Buffer.concat([text, Buffer.alloc(pad4(text.length), 0x20)])
  const total = 12 + 8 + jsonChunk.length + 8 + bin.length
  const out = Buffer.alloc(total)
  let o = 0
  o = out.writeUInt32LE(GLB_MAGIC, o)
  o = out.writeUInt32LE(2, o)
  o = out.writeUInt32LE(total, o)
  o = out.writeUInt32LE(jsonChunk.length, o)
  o = out.writeUInt32LE(CHUNK_JSON, o)
  o += jsonChunk.copy(out, o)
  o = out.writeUInt32LE(bin.length, o)
  o = out.writeUInt32LE(CHUNK_BIN, o)
  bin.copy(out, o)
  return out
}

/**
 * A box w×h×d centred on the origin: 6 faces × 4 vertices (each face its own normal), 12 triangles
 * wound counter-clockwise seen from outside.
 */
export function boxMesh(w: number, h: number, d: number, color: GlbMesh['color']): GlbMesh {
  const [x, y, z] = [w / 2, h / 2, d / 2]
  // Each face: normal, then its four corners counter-clockwise seen from outside.
  const faces: Array<[number[], number[][]]> = [
    [
      [0, 0, 1],
      [
        [-x, -y, z],
        [x, -y, z],
        [x, y, z],
        [-x, y, z],
      ],
    ],
    [
      [0, 0, -1],
      [
        [x, -y, -z],
        [-x, -y, -z],
        [-x, y, -z],
        [x, y, -z],
      ],
    ],
    [
      [1, 0, 0],
      [
        [x, -y, z],
        [x, -y, -z],
        [x, y, -z],
        [x, y, z],
      ],
    ],
    [
      [-1, 0, 0],
      [
        [-x, -y, -z],
        [-x, -y, z],
        [-x, y, z],
        [-x, y, -z],
      ],
    ],
    [
      [0, 1, 0],
      [
        [-x, y, z],
        [x, y, z],
        [x, y, -z],
        [-x, y, -z],
      ],
    ],
    [
      [0, -1, 0],
      [
        [-x, -y, -z],
        [x, -y, -z],
        [x, -y, z],
        [-x, -y, z],
      ],
    ],
  ]
  const positions: number[][] = []
  const normals: number[][] = []
  const triangles: number[][] = []
  for (const [n, corners] of faces) {
    const base = positions.length
    for (const c of corners) {
      positions.push(c)
      normals.push(n)
    }
    triangles.push([base, base + 1, base + 2], [base, base + 2, base + 3])
  }
  return { positions, normals, triangles, color }
}
