import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Distributed
import Model

/// The first thing to run on a new cluster: every rank reports in, rank 0 prints them in order.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print rank, size, host, GEMM kernels and MPI library of every rank.",
        discussion: """
            Examples:
              vae-dist launch -n 4 -- info
              mpirun -np 16 --hostfile cluster/hostfile.example .build/release/vae-dist info
            """)

    func run() throws {
        runOnWorld { world in
            let kernels = KernelReport.line()
            let line = "rank \(world.rank) of \(world.size) on \(world.processorName()) (pid \(getpid())); \(kernels)"
            guard let lines = try world.gather(bytes: Array(line.utf8), root: 0) else { return }
            print("vae-dist: \(world.size) rank\(world.size == 1 ? "" : "s"); MPI: \(MPICommunicator.libraryVersion())")
            for bytes in lines { print(String(decoding: bytes, as: UTF8.self)) }
        }
    }
}
