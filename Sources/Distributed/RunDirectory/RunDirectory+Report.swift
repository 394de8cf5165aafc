import Foundation
import FileFormats

/// What an experiment (`experiment tutorial`) or `figures` leaves in a run directory besides training's files:
///
/// ```
/// runs/tutorial-mnist-20261201-020304/
///   report.md   figures/vae-samples.png …   vae/ (a run directory per model)   cvae/   regressor/
/// ```
extension RunDirectory {
    /// `figures/`: the evaluation figures (`RunFigures`).
    public var figuresPath: String { path + "/figures" }

    /// `report.md`: an experiment's report.
    public var reportPath: String { path + "/report.md" }

    /// The run directory of one model of an experiment, inside this one.
    public func run(named name: String) -> RunDirectory { RunDirectory(path: path + "/" + name) }

    /// Writes `report.md` (atomically).
    public func writeReport(_ markdown: String) throws {
        try AtomicFile.write(Array(markdown.utf8), to: reportPath)
    }
}
