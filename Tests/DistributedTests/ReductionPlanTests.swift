import Testing
@testable import Distributed

/// What a run says about its reduction order, and when the canonical one falls back.
struct ReductionPlanTests {
    @Test("canonical where the world size divides the leaves; otherwise native, with the reason")
    func plans() {
        let eight = ReductionPlan(.canonical, globalBatch: 128, worldSize: 4)
        #expect(eight.isCanonical && eight.leafCount == 8 && eight.recorded == "canonical 8")
        #expect(eight.summary == "reduction order canonical: 8 leaves of 16 examples; 1, 2, 4 or 8 ranks give the same bits")
        #expect(ReductionPlan(.canonical, globalBatch: 130, worldSize: 2).summary.hasPrefix("reduction order canonical: 8 leaves of 16–17 examples"))
        let three = ReductionPlan(.canonical, globalBatch: 128, worldSize: 3)
        #expect(!three.isCanonical && three.recorded == "native")
        #expect(three.summary == "reduction order native (canonical impossible: 3 ranks cannot share the 8 leaves of a "
            + "128-example batch; 1, 2, 4 or 8 ranks can)")
        #expect(ReductionPlan(.canonical, globalBatch: 20, worldSize: 1).fallback?.contains("one leaf") == true)
        #expect(!ReductionPlan(.native, globalBatch: 128, worldSize: 2).isCanonical)
        let scattered = eight.honoured(byTreeOrderExchange: false)
        #expect(!scattered.isCanonical && scattered.summary.contains("cannot add these ranks in tree order"))
        #expect(eight.honoured(byTreeOrderExchange: true) == eight)
    }

    @Test("checkpoint show's reproducibility line, also for checkpoints from before the field")
    func reproducibility() {
        #expect(ReductionPlan.reproducibility(recorded: "canonical 8")
            == "reproducible across world sizes: yes (reduction order canonical, 8 leaves: 1, 2, 4 or 8 ranks give the same bits)")
        #expect(ReductionPlan.reproducibility(recorded: "native").hasPrefix("reproducible across world sizes: no (reduction order native)"))
        #expect(ReductionPlan.reproducibility(recorded: nil).hasPrefix("reproducible across world sizes: no (reduction order native, from an older version)"))
    }

    @Test("each rank's leaves in a step, the smaller last batch too; native is one leaf")
    func leavesOfASteps() {
        let plan = ReductionPlan(.canonical, globalBatch: 128, worldSize: 2)
        #expect(plan.leaves(batch: 128, rank: 1, size: 2, count: 64).boundaries == [0, 16, 32, 48, 64])
        #expect(plan.leaves(batch: 96, rank: 0, size: 2, count: 48).boundaries == [0, 12, 24, 36, 48])
        #expect(ReductionPlan(.native, globalBatch: 128, worldSize: 2).leaves(batch: 128, rank: 0, size: 2, count: 64).count == 1)
    }
}
