import Foundation
import Synchronization

/// Keeps every core of the host out of its idle states while a measurement runs: one spinning thread per core at
/// `SCHED_IDLE` priority, which Linux runs only when no other thread wants that core, so the measured programs
/// lose no CPU to it.
///
/// Why: on a simulated GPU the device is the host CPU. A core that went idle (a throttled `limit` program sleeps
/// between its kernels; an unlimited one never does) runs the next kernel measurably slower — frequency and
/// cache state after a halt, on a virtual machine the hypervisor's rescheduling of the halted vCPU. That makes a
/// limited program's kernels cost 3–20 % more than the unlimited baseline's, a confound of the host that a real
/// GPU does not have; this removes it, so what is compared is the limiter alone.
final class HostWarmth: Sendable {
    private let running = Atomic<Bool>(true)
    private let stopped: DispatchGroup

    init(threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        let group = DispatchGroup()
        stopped = group
        for _ in 0..<threads {
            group.enter()
            let thread = Thread { [self] in
                var parameters = sched_param()
                // SCHED_IDLE (5 in <sched.h>), which Glibc's module map does not export by name.
                _ = sched_setscheduler(0, 5, &parameters)
                while running.load(ordering: .relaxed) {}
                group.leave()
            }
            thread.start()
        }
    }

    /// Stops the spinning threads and waits for them to end.
    func stop() {
        running.store(false, ordering: .relaxed)
        stopped.wait()
    }
}
