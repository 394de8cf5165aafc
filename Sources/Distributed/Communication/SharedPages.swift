#if canImport(Glibc)
import Glibc
#endif

/// Lets a rank stop holding pages of memory it maps SHARED (the node-shared window) without changing
/// what they hold: `madvise(MADV_DONTNEED)` on a shared mapping only removes the pages from this
/// process's page table; the data stays in the shared file (`/dev/shm`) and comes back, as it is, on the
/// next touch. So a rank's resident set (RSS) holds only the part of the window it works on, and an
/// exchange that is idle (`--gradient-exchange auto` while the allreduce runs) holds none of it.
///
/// Never use this on private memory: there it would zero the pages (`FlatBuffer.discardContents` does
/// that on purpose).
enum SharedPages {
    /// The system's page size in bytes.
    static let pageSize: Int = {
        #if canImport(Glibc)
        return max(sysconf(Int32(_SC_PAGESIZE)), 4096)
        #else
        return 4096
        #endif
    }()

    /// The whole pages inside the byte addresses `start..<end` (rounded inward, so no byte outside is
    /// touched), or nil when not one page fits.
    static func wholePages(from start: Int, to end: Int, pageSize: Int = pageSize) -> Range<Int>? {
        let first = (start + pageSize - 1) / pageSize * pageSize
        let last = end / pageSize * pageSize
        return first < last ? first..<last : nil
    }

    /// Drops this process's resident pages wholly inside `start..<end` of a SHARED mapping; their contents
    /// stay. Advice only: where it fails, the pages simply stay resident.
    static func release(from start: UnsafeRawPointer, to end: UnsafeRawPointer) {
        guard let pages = wholePages(from: Int(bitPattern: start), to: Int(bitPattern: end)) else { return }
        #if os(Linux)
        _ = madvise(UnsafeMutableRawPointer(bitPattern: pages.lowerBound), pages.count, MADV_DONTNEED)
        #endif
    }

    /// Floats per piece of `piecewise` (1 MiB).
    static let pieceFloats = 1 << 18

    /// Runs `body` on `0..<count` a piece of `pieceFloats` at a time and releases each piece of the shared
    /// floats at `base` after it: a rank that must touch all of a window (zeroing it, copying it out) then
    /// holds at most one piece of it.
    static func piecewise(_ base: UnsafeMutablePointer<Float>, count: Int, _ body: (Range<Int>) -> Void) {
        for start in stride(from: 0, to: count, by: pieceFloats) {
            let range = start..<min(start + pieceFloats, count)
            body(range)
            release(from: base + range.lowerBound, to: base + range.upperBound)
        }
    }
}
