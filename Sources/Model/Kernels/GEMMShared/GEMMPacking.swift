// Packing: copies of operand blocks into the layouts `gemmMicroKernel` reads with unit or tile
// strides, zero-padded to whole tiles so edge tiles need no special kernel. Each is used by the
// drivers in GEMMDrivers.swift where reading in place would be slower or impossible. Compiled once
// per instruction set, like the micro-kernel.
//
// Layouts (nr = `GEMMTile.columns`):
// - column panels: `depth × nr` blocks, `panel[p * nr + j]` — the `B` operand;
// - transposed panels: the same layout filled from the rows of a matrix stored the other way
//   (`gemmPackTransposedPanels`, one per target in its GEMMTranspose.swift).

/// Copies `depth` rows × `columns` (< tile width) of a row-major matrix into one zero-padded
/// `depth × GEMMTile.columns` panel.
func gemmPackColumnTail(
    _ src: UnsafePointer<Float>, rowStride: Int, columns: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    let nr = GEMMTile.columns
    for p in 0..<depth {
        let s = src + p * rowStride, d = dst + p * nr
        for j in 0..<nr { d[j] = j < columns ? s[j] : 0 }
    }
}

/// Packs the `depth × columns` block at depth `p0`, column `j0` of an operand into `depth × GEMMTile.columns`
/// panels (zero-padded): the operand stored `[depth × ld]` (`gemmPackColumnPanels`), or — `storedTransposed` —
/// stored `[columns × ld]`, a row per column (`gemmPackTransposedPanels`).
@inline(__always)
func gemmPackPanels(
    _ src: UnsafePointer<Float>, storedTransposed: Bool, ld: Int, p0: Int, j0: Int, depth: Int, columns: Int,
    into dst: UnsafeMutablePointer<Float>
) {
    if storedTransposed {
        gemmPackTransposedPanels(src + j0 * ld + p0, rowStride: ld, count: columns, depth: depth, into: dst)
    } else {
        gemmPackColumnPanels(src + p0 * ld + j0, rowStride: ld, columns: columns, depth: depth, into: dst)
    }
}

/// Copies `depth` rows × `columns` of a row-major matrix into `depth × GEMMTile.columns` panels
/// (`panel[p * nr + j]`), the last one zero-padded. Reads row by row.
func gemmPackColumnPanels(
    _ src: UnsafePointer<Float>, rowStride: Int, columns: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    typealias V = GEMMLane
    let nr = GEMMTile.columns, half = V.scalarCount * MemoryLayout<Float>.stride
    let full = columns / nr
    for panel in 0..<full {
        let s = UnsafeRawPointer(src + panel * nr), d = UnsafeMutableRawPointer(dst + panel * depth * nr)
        let rowBytes = rowStride * MemoryLayout<Float>.stride, panelRowBytes = nr * MemoryLayout<Float>.stride
        for p in 0..<depth {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: p * rowBytes, as: V.self),
                         toByteOffset: p * panelRowBytes, as: V.self)
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: p * rowBytes + half, as: V.self),
                         toByteOffset: p * panelRowBytes + half, as: V.self)
        }
    }
    if full * nr < columns {
        gemmPackColumnTail(src + full * nr, rowStride: rowStride, columns: columns - full * nr, depth: depth,
                           into: dst + full * depth * nr)
    }
}

/// Copies `rows` ≤ `GEMMTile.rows` consecutive entries from each of `depth` steps `depthStride`
/// apart into a contiguous `depth × GEMMTile.rows` panel (`gemmBlockedTN`'s `Aᵀ` rows: read in place
/// they jump a whole row of `A` per step, which `bench kernels` shows as a slower m = 1000 than m = 784).
func gemmPackDepthRows(
    _ src: UnsafePointer<Float>, depthStride: Int, rows: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    let mr = GEMMTile.rows
    if rows == mr {  // a fixed-size copy per step: a few vector moves
        for p in 0..<depth { (dst + p * mr).update(from: src + p * depthStride, count: mr) }
        return
    }
    for p in 0..<depth {
        let s = src + p * depthStride, d = dst + p * mr
        for r in 0..<rows { d[r] = s[r] }
    }
}

/// Transposes `count` rows of `src` (row stride `rowStride`, `depth` used entries each) into zero-padded
/// `depth × GEMMTile.columns` panels, one scalar at a time: `panel[p * nr + j] = src[(j0 + j) * rowStride + p]`.
/// The AVX2 build's `gemmPackTransposedPanels` (GEMMTranspose.swift), and the AVX-512 one's off x86.
func gemmPackTransposedPanelsScalar(
    _ src: UnsafePointer<Float>, rowStride: Int, count: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    let nr = GEMMTile.columns
    var panel = dst
    var j0 = 0
    while j0 < count {
        let width = min(nr, count - j0)
        for j in 0..<nr {
            if j < width {
                let row = src + (j0 + j) * rowStride
                for p in 0..<depth { panel[p * nr + j] = row[p] }
            } else {
                for p in 0..<depth { panel[p * nr + j] = 0 }
            }
        }
        panel += nr * depth
        j0 += nr
    }
}
