import MPIShim

/// An allreduce whose additions follow a fixed tree, for sums that must not depend on the world size.
///
/// `MPI_Allreduce` leaves the order of its additions to the library: a ring adds rank after rank, recursive
/// doubling pairs ranks, and which one runs depends on the message size and the tuning. With two ranks every
/// order is `x0 + x1` (IEEE addition is commutative); from four ranks on they differ in the last bits.
///
/// This is the reduce-scatter by recursive halving and allgather by recursive doubling of Rabenseifner's
/// algorithm, with the partners at distance 1, 2, 4 … in that order: after the halving step at distance
/// `d`, each element a rank holds is the sum of an aligned block of `2d` ranks, formed from two blocks of
/// `d` — the pairwise tree `(x0 + x1) + (x2 + x3)`. Each rank sends and receives about twice the buffer in
/// all, like a ring, in 2·log₂ n steps (a halving step's message cut into chunks of 1 MiB).
extension MPICommunicator {
    /// Message tag of the tree-order exchanges (point-to-point, so it must not meet other traffic).
    static let treeOrderTag: Int32 = 0x7472  // "tr"
    /// Floats per message of the halving steps (1 MiB): what a rank receives is added a chunk at a time, so
    /// its scratch is one chunk rather than half the buffer (5.7 MB for the deep model, which the C heap
    /// then keeps for the rest of the run). Large enough that a message's latency does not matter.
    static let treeOrderChunk = 1 << 18

    public func allreduceSumInTreeOrder(_ buffer: UnsafeMutableBufferPointer<Float>, waiting: CollectiveWait) throws {
        precondition(size & (size - 1) == 0, "allreduceSumInTreeOrder needs a power-of-two world size, not \(size)")
        guard size > 1, let base = buffer.baseAddress, buffer.count > 0 else { return }
        guard buffer.count <= MPICommunicator.maxChunk else {
            throw CommunicatorError("allreduceSumInTreeOrder: \(buffer.count) values exceed one MPI message")
        }
        let chunk = Self.treeOrderChunk
        let received = UnsafeMutablePointer<Float>.allocate(capacity: min(chunk, (buffer.count + 1) / 2))
        defer { received.deallocate() }
        // Halving: keep one half of the current range, send the other to the partner, add what it sends,
        // a chunk at a time (both partners cut their halves at the same offsets, so chunk c meets chunk c).
        var range = 0..<buffer.count
        var halvings: [Range<Int>] = []
        var distance = 1
        while distance < size {
            let (lower, upper) = Self.halves(of: range)
            let keepsLower = rank & distance == 0
            let (kept, given) = keepsLower ? (lower, upper) : (upper, lower)
            let target = base + kept.lowerBound
            for offset in stride(from: 0, to: max(kept.count, given.count), by: chunk) {
                let receiveCount = max(0, min(chunk, kept.count - offset))
                try exchange(send: base + given.lowerBound + offset, count: max(0, min(chunk, given.count - offset)),
                             receive: received, count: receiveCount, with: rank ^ distance, waiting: waiting)
                for i in 0..<receiveCount { target[offset + i] += received[i] }
            }
            halvings.append(range)
            range = kept
            distance <<= 1
        }
        // Doubling, in reverse: swap the finished halves until every rank holds the whole sum.
        while distance > 1 {
            distance >>= 1
            let (lower, upper) = Self.halves(of: halvings.removeLast())
            let (mine, theirs) = rank & distance == 0 ? (lower, upper) : (upper, lower)
            try exchange(send: base + mine.lowerBound, count: mine.count,
                         receive: base + theirs.lowerBound, count: theirs.count, with: rank ^ distance, waiting: waiting)
        }
    }

    private static func halves(of range: Range<Int>) -> (Range<Int>, Range<Int>) {
        let middle = range.lowerBound + range.count / 2
        return (range.lowerBound..<middle, middle..<range.upperBound)
    }

    private func exchange(send: UnsafeMutablePointer<Float>, count sendCount: Int,
                          receive: UnsafeMutablePointer<Float>, count receiveCount: Int, with partner: Int,
                          waiting: CollectiveWait) throws {
        guard case .polling(let pause) = waiting else {
            try MPICommunicator.check(
                MPI_Sendrecv(send, Int32(sendCount), shim_float(), Int32(partner), Self.treeOrderTag,
                             receive, Int32(receiveCount), shim_float(), Int32(partner), Self.treeOrderTag,
                             comm, shim_status_ignore()),
                "MPI_Sendrecv")
            return
        }
        var requests: [MPI_Request?] = [shim_request_null(), shim_request_null()]
        try MPICommunicator.check(
            MPI_Irecv(receive, Int32(receiveCount), shim_float(), Int32(partner), Self.treeOrderTag, comm, &requests[0]),
            "MPI_Irecv")
        try MPICommunicator.check(
            MPI_Isend(send, Int32(sendCount), shim_float(), Int32(partner), Self.treeOrderTag, comm, &requests[1]),
            "MPI_Isend")
        var done: Int32 = 0
        while true {
            try MPICommunicator.check(MPI_Testall(2, &requests, &done, shim_statuses_ignore()), "MPI_Testall")
            if done != 0 { return }
            pause()
        }
    }
}
