import ArgumentParser
import Foundation
import Model

/// `vae-dist`: data-parallel variational autoencoders on Open MPI.
@main
struct VAEDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-dist",
        abstract: "Train variational autoencoders data-parallel over MPI ranks.",
        discussion: """
            Examples:
              vae-dist                              train a VAE on MNIST with the defaults (same as `vae-dist train`)
              vae-dist launch -n 2 -- train --dataset fashion-mnist --epochs 10
              vae-dist launch -n 2 -- info          start 2 local ranks and print who they are
              mpirun -np 8 vae-dist info            the same under your own mpirun (or srun)
              vae-dist bench allreduce              allreduce timings (run under mpirun/launch)
            """,
        subcommands: [Train.self, Sample.self, Eval.self, Figures.self, Experiment.self, DataCommand.self, CheckpointCommand.self, Export.self, Info.self, Launch.self, Bench.self],
        defaultSubcommand: Train.self
    )

    /// Every subcommand computes with subnormals flushed to zero (see `FloatingPointEnvironment`).
    /// Flag errors go through ArgumentParser (message, usage, exit 64); anything a command throws while
    /// running is one line, `vae-dist: error: ...`, and exit status 1 — the same form training errors have.
    static func main() {
        FloatingPointEnvironment.flushSubnormalsToZero()
        if case .failure(let error) = GEMMDispatch.selection {  // a bad VAE_DIST_KERNELS
            FileHandle.standardError.write(Data("vae-dist: error: \(error)\n".utf8))
            Foundation.exit(1)
        }
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            exit(withError: error)
        }
        do {
            try command.run()
        } catch let error where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            exit(withError: error)  // --help, ValidationError, ExitCode, CleanExit: ArgumentParser's own handling
        } catch {
            FileHandle.standardError.write(Data("vae-dist: error: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}
