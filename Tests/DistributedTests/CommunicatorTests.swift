import Distributed
import Testing

/// One-rank behaviour of both communicators. Multi-rank behaviour is tested under a real mpirun by
/// Tests/MultiRank (scripts/test runs it with np = 2 and 4).
@Suite struct SingleRankCommunicatorTests {
    @Test func singleProcessCollectivesAreIdentities() throws {
        let world = SingleProcessCommunicator()
        var values: [Float] = [1, -2, 3.5]
        try world.allreduceSum(&values)
        #expect(values == [1, -2, 3.5])
        var bytes: [UInt8] = [1, 2, 3]
        try world.broadcast(bytes: &bytes, root: 0)
        #expect(bytes == [1, 2, 3])
        #expect(try world.allgather(42) == [42])
        #expect(try world.gather(bytes: [7], root: 0) == [[7]])
        #expect(try world.ranksDisagreeing(with: 5) == [])
    }

    @Test func singleProcessRejectsRootOutsideTheJob() {
        let world = SingleProcessCommunicator()
        var values: [Float] = [1]
        #expect(throws: CommunicatorError.self) { try world.broadcast(&values, root: 1) }
    }

    /// `swift test` runs without mpirun, so this is an MPI singleton: one rank, real MPI calls.
    @Test func mpiSingletonHasOneRankAndSumsInPlace() throws {
        let world = try MPICommunicator.world
        #expect(world.rank == 0)
        #expect(world.size == 1)
        var values = (0..<1_000_001).map { Float($0 % 17) }
        let before = values
        try world.allreduceSum(&values)
        #expect(values == before)
        var bytes: [UInt8] = Array("hello".utf8)
        try world.broadcast(bytes: &bytes, root: 0)
        #expect(String(decoding: bytes, as: UTF8.self) == "hello")
        #expect(MPICommunicator.libraryVersion().contains("MPI"))
        #expect(throws: CommunicatorError.self) { try world.broadcast(bytes: &bytes, root: 3) }
    }
}
