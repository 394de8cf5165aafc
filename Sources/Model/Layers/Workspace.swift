/// Activation memory for one batch size, carved out of one aligned allocation and reused every step.
///
/// A network asks for its arrays once (`take`) when it is prepared for a batch size; a training step then
/// allocates nothing. Arrays start on 64-byte boundaries.
public final class Workspace: @unchecked Sendable {
    public let storage: FlatBuffer
    private var used = 0

    public init(floats: Int) { storage = FlatBuffer(count: floats) }

    /// Floats a workspace needs for arrays of the given sizes (with alignment padding).
    public static func floatsNeeded(_ sizes: [Int]) -> Int { sizes.reduce(0) { $0 + padded($1) } }

    private static func padded(_ n: Int) -> Int { (max(n, 1) + 15) / 16 * 16 }

    /// The next `count` floats.
    public func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = storage.baseAddress + used
        used += Workspace.padded(count)
        precondition(used <= storage.count, "Workspace: out of space (\(used) > \(storage.count))")
        return p
    }
}
