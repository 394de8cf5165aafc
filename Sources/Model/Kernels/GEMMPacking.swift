/// Packing: copies of operand blocks into the layouts `gemmMicroKernel` reads with unit or tile
/// strides, zero-padded to whole tiles so edge tiles need no special kernel. Each is used by the
/// drivers in GEMMDrivers.swift where reading in place would be slower or impossible.
///
/// Layouts (nr = `GEMMTile.columns`, mr = `GEMMTile.rows`):
/// - column panels: `depth × nr` blocks, `panel[p * nr + j]` — the `B` operand;
/// - row tails: `depth × mr` or `mr × depth` zero-padded copies of a last partial row panel.

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

/// Transposes `count` rows of `src` (row stride `rowStride`, `depth` used entries each) into
/// `depth × GEMMTile.columns` panels: `panel[p * nr + j] = src[(j0 + j) * rowStride + p]`.
func gemmPackTransposedPanels(
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

/// Copies `depth` rows × `count` (< tile rows) entries into a zero-padded `depth × GEMMTile.rows`
/// panel (the `A` operand of `gemmTN`'s last row panel).
func gemmPackColumnTailRows(
    _ src: UnsafePointer<Float>, rowStride: Int, count: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    let mr = GEMMTile.rows
    for p in 0..<depth {
        let s = src + p * rowStride, d = dst + p * mr
        for r in 0..<mr { d[r] = r < count ? s[r] : 0 }
    }
}

/// Copies `rows` (< tile rows) rows of `depth` entries into `GEMMTile.rows` rows of row stride
/// `depth`, the missing rows zero.
func gemmPackRowsPadded(
    _ src: UnsafePointer<Float>, rowStride: Int, rows: Int, depth: Int, into dst: UnsafeMutablePointer<Float>
) {
    for r in 0..<GEMMTile.rows {
        let d = dst + r * depth
        if r < rows {
            d.update(from: src + r * rowStride, count: depth)
        } else {
            d.update(repeating: 0, count: depth)
        }
    }
}
