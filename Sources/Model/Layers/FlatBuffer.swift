#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One contiguous, aligned `Float` allocation: all parameters of a model, or all their gradients, or one
/// of Adam's moment vectors.
///
/// Why one buffer (ARCHITECTURE.md, "Invariants"): the gradient exchange is one call over
/// `baseAddress..<baseAddress+count`, Adam is one loop, a checkpoint is one write, and "are the ranks in
/// sync?" is one `checksum()`. Layers never own storage; they hold offsets into the buffer (see
/// `ParameterLayout`).
///
/// Alignment: 64 bytes (one cache line, one AVX-512 vector) always; buffers of 2 MiB or more are
/// 2 MiB-aligned and, on Linux, `madvise(MADV_HUGEPAGE)`d, which makes an Open MPI allreduce of them
/// faster (fewer TLB misses, pages pinned once; `vae-dist bench allreduce`). The contents start zeroed.
///
/// The class is a reference type on purpose: every layer, the optimizer and the communicator see the same
/// memory. It is `@unchecked Sendable` because it is plain memory; callers must not write it from two
/// threads at once (the training loop is single-threaded per rank).
public final class FlatBuffer: @unchecked Sendable {
    /// Number of `Float`s.
    public let count: Int
    /// The first element; valid for the lifetime of the buffer, never moves.
    public let baseAddress: UnsafeMutablePointer<Float>
    /// Alignment in bytes that the allocation actually has (64 or 2 MiB).
    public let alignment: Int

    /// Keeps borrowed memory alive (nil when the buffer owns its allocation).
    private let owner: AnyObject?

    /// Size from which a buffer is 2 MiB-aligned and advised to use transparent huge pages.
    public static let hugePageSize = 2 << 20

    /// Allocates `count` zeroed floats.
    public init(count: Int) {
        precondition(count >= 0, "FlatBuffer: negative count \(count)")
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let align = bytes >= FlatBuffer.hugePageSize ? FlatBuffer.hugePageSize : 64
        // Round the size up to the alignment so a huge-page buffer covers whole pages.
        let rounded = (bytes + align - 1) / align * align
        var raw: UnsafeMutableRawPointer? = nil
        let status = posix_memalign(&raw, align, rounded)
        precondition(status == 0 && raw != nil, "FlatBuffer: posix_memalign(\(align), \(rounded)) failed: \(status)")
        #if os(Linux)
        if align == FlatBuffer.hugePageSize {
            // Advice only: failure (e.g. THP disabled) leaves ordinary pages, which is still correct.
            _ = madvise(raw, rounded, MADV_HUGEPAGE)
        }
        #endif
        memset(raw!, 0, rounded)
        self.alignment = align
        self.baseAddress = raw!.bindMemory(to: Float.self, capacity: rounded / MemoryLayout<Float>.stride)
        self.owner = nil
    }

    /// Gives an owned buffer's memory back to the operating system while the buffer stays valid; its
    /// contents become zero, and pages come back on the next write. For a buffer kept only to be switched
    /// to now and then (the replica of `--gradient-exchange auto` while the node-shared exchange runs).
    /// Borrowed memory belongs to its owner and is left alone.
    public func discardContents() {
        guard owner == nil else { return }
        #if os(Linux)
        if alignment == FlatBuffer.hugePageSize {  // whole 2 MiB pages: hand them back
            let bytes = max(count, 1) * MemoryLayout<Float>.stride
            let rounded = (bytes + alignment - 1) / alignment * alignment
            if madvise(UnsafeMutableRawPointer(baseAddress), rounded, MADV_DONTNEED) == 0 { return }
        }
        #endif
        zero()
    }

    /// A view of `count` floats that `owner` allocated and frees (e.g. a node-shared MPI window); the
    /// buffer keeps `owner` alive. `base` must be 64-byte aligned.
    public init(borrowing base: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        precondition(count >= 0 && Int(bitPattern: base) % 64 == 0, "FlatBuffer: borrowed memory must be 64-byte aligned")
        self.count = count
        self.baseAddress = base
        self.alignment = 64
        self.owner = owner
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { source in
            if let s = source.baseAddress { baseAddress.update(from: s, count: values.count) }
        }
    }

    deinit { if owner == nil { free(baseAddress) } }

    /// The contents as a buffer pointer (read-only use).
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: baseAddress, count: count))
    }

    /// The contents as a mutable buffer pointer, e.g. for an in-place allreduce in one call.
    @inlinable
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: baseAddress, count: count))
    }

    /// Element access, bounds-checked; for tests and setup code, not hot loops.
    public subscript(index: Int) -> Float {
        get { precondition(index >= 0 && index < count); return baseAddress[index] }
        set { precondition(index >= 0 && index < count); baseAddress[index] = newValue }
    }

    /// Sets every element to zero.
    public func zero() { memset(baseAddress, 0, count * MemoryLayout<Float>.stride) }

    /// Copies all elements from `other`, which must have the same count.
    public func copy(from other: FlatBuffer) {
        precondition(other.count == count, "FlatBuffer.copy: count \(other.count) != \(count)")
        baseAddress.update(from: other.baseAddress, count: count)
    }

    /// A copy of the contents as an array (checkpoints, tests).
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: baseAddress, count: count)) }

    /// Overwrites the contents from `values` (same count).
    public func assign(_ values: [Float]) {
        precondition(values.count == count, "FlatBuffer.assign: count \(values.count) != \(count)")
        values.withUnsafeBufferPointer { baseAddress.update(from: $0.baseAddress!, count: count) }
    }

    /// A cheap 64-bit fingerprint of the exact bit patterns (not a cryptographic hash).
    ///
    /// Two buffers with identical contents give identical checksums on every machine; any single changed
    /// bit changes it with overwhelming probability. Eight independent multiply-xor lanes over the
    /// 32-bit words (so the loop vectorizes) are folded at the end with the count. Used to assert that all
    /// ranks hold the same parameters.
    public func checksum() -> UInt64 { FlatBuffer.checksum(UnsafeBufferPointer(start: baseAddress, count: count)) }

    /// The checksum of any float buffer (see `checksum()`).
    public static func checksum(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
        let n = values.count
        let words = UnsafeRawPointer(values.baseAddress ?? UnsafePointer(bitPattern: 64)!)
            .assumingMemoryBound(to: UInt32.self)
        let prime: UInt64 = 0x100_0000_01b3            // FNV-1a 64-bit prime
        var lanes = SIMD8<UInt64>(repeating: 0xcbf2_9ce4_8422_2325)
        lanes &+= SIMD8<UInt64>(0, 1, 2, 3, 4, 5, 6, 7)
        var i = 0
        while i + 8 <= n {
            var w = SIMD8<UInt64>()
            for j in 0..<8 { w[j] = UInt64(words[i + j]) }
            lanes = (lanes ^ w) &* prime
            lanes ^= lanes &>> 29
            i += 8
        }
        var tail: UInt64 = 0x9e37_79b9_7f4a_7c15
        while i < n { tail = (tail ^ UInt64(words[i])) &* prime; i += 1 }
        var h = UInt64(truncatingIfNeeded: n) &* 0x9e37_79b9_7f4a_7c15 ^ tail
        for j in 0..<8 { h = (h ^ lanes[j]) &* prime; h ^= h >> 31 }
        return h
    }
}
