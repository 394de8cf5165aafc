import Dispatch
import Model

/// This rank's running loss sums over the epoch in progress.
struct EpochTotals {
    var reconstruction = 0.0
    var kl = 0.0
    var examples = 0
    var lastLoss = 0.0

    mutating func add(_ terms: LossTerms, examples count: Int) {
        reconstruction += terms.reconstruction
        kl += terms.kl
        examples += count
        if count > 0 { lastLoss = terms.total / Double(count) }
    }
}

struct EpochTimer {
    var phases = StepPhases()
    var steps: Int { phases.steps }
    private var lastProgress: UInt64 = 0

    /// True at most once a second, so a terminal progress line costs nothing and floods no log.
    mutating func shouldShowProgress() -> Bool {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastProgress >= 1_000_000_000 else { return false }
        lastProgress = now
        return true
    }
}
