import Foundation
import Testing
import TesseraPoolAPI

/// A node in Kubernetes mode (`--pod-reservations`): a program gets exactly its pod's reservation, found from
/// its process's cgroup, whatever its environment asks; a program in a pod without one is refused with the
/// reason. The cgroup files live in a test `--proc-root` written for the real programs' pids (the kernel's
/// files are the one stand-in); node, controller and programs are the real ones.
@Suite(.serialized) struct PodClaimTests {
    static let alice = "7d3c1f0e-5a2b-4c6d-8e9f-0a1b2c3d4e5f"
    static let mallory = "0f9e8d7c-6b5a-4948-8372-615049382716"

    /// Starts `tessera run` for `sample` as a process of pod `uid`: a shell that waits until the test has written
    /// its cgroup file, then becomes the program by exec (same pid, as a container's process would be).
    static func startInPod(_ uid: String, node: PoolNode, procRoot: URL, _ sample: String, _ arguments: [String],
                           memory: String, compute: Int, mode: String = "share") throws -> RunningCommand {
        let systemdSlice = "kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice"
        return try start(cgroup: "0::/kubepods.slice/kubepods-burstable.slice/\(systemdSlice)/cri-containerd-4f1e.scope\n",
                         node: node, procRoot: procRoot, sample, arguments, memory: memory, compute: compute, mode: mode)
    }

    /// Starts `tessera run` for `sample` as a process whose `/proc/<pid>/cgroup` reads `cgroup`.
    static func start(cgroup: String, node: PoolNode, procRoot: URL, _ sample: String, _ arguments: [String],
                      memory: String, compute: Int, mode: String = "share") throws -> RunningCommand {
        let gate = procRoot.appendingPathComponent("go-\(UUID().uuidString.prefix(8))").path
        let run = ([Products.tessera.path, "run", "--endpoint", node.socketPath, "--memory", memory, "--compute", "\(compute)",
                    "--compute-mode", mode, "--", Products.sample(sample)] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let program = Command.start("/bin/sh", ["-c", "while [ ! -e '\(gate)' ]; do sleep 0.02; done; exec \(run)"])
        let folder = procRoot.appendingPathComponent("\(program.pid)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(cgroup.utf8).write(to: folder.appendingPathComponent("cgroup"))
        _ = FileManager.default.createFile(atPath: gate, contents: nil)
        return program
    }

    @Test func aPodsProgramGetsItsReservationAndNothingMore() throws {
        let controller = try TestController()
        let procRoot = controller.directory.appendingPathComponent("proc")
        try FileManager.default.createDirectory(at: procRoot, withIntermediateDirectories: true)
        let node = try PoolNode("k8s-node", controller: controller, gpus: 2,
                                extraArguments: ["--pod-reservations", "--proc-root", procRoot.path])
        // The reservation the scheduler extender takes at bind: 1 vGPU of 256 MiB, 20 %, hard-capped.
        let reservation: Reservation = try controller.admin.post("/v1/reservations", ReservationRequest(
            consumer: "pod/\(Self.alice)",
            spec: VirtualGPUSpec(vgpus: 1, memoryMiB: 256, computePercent: 20, sameNode: true, node: "k8s-node", computeMode: "limit"),
            displayName: "students/alice", unique: true, persistent: true))

        // The program's environment asks for 8 GiB and a whole GPU; it gets the pod's 256 MiB: 400 MiB fail.
        let greedy = try Self.startInPod(Self.alice, node: node, procRoot: procRoot, "hold", ["400"], memory: "8GiB", compute: 100)
        let refused = greedy.finish(timeout: 120)
        #expect(refused.status != 0, "\(refused.stdout)")
        #expect(refused.stderr.lowercased().contains("memory"), "\(refused.stderr)")
        // Its session ended: the reservation is the pod's again (it outlives the pod's programs).
        #expect(controller.wait { try controller.admin.get("/v1/reservations/\(reservation.id)", as: Reservation.self).claimedBy == nil })

        // The next program of the pod claims it and runs within it.
        let holder = try Self.startInPod(Self.alice, node: node, procRoot: procRoot, "hold", ["100"], memory: "8GiB", compute: 100)
        #expect(holder.waitForOutput("READY"), "\(holder.stderr)")
        let claimed = try controller.admin.get("/v1/reservations/\(reservation.id)", as: Reservation.self)
        let lease = try controller.admin.get("/v1/leases/\(try #require(claimed.claimedBy))", as: Lease.self)
        #expect(lease.vgpus == reservation.vgpus && lease.spec.computeMode == "limit")
        #expect(try controller.admin.get("/v1/leases", as: [Lease].self).count == 1)  // no placement anew

        // A program of a pod that reserved nothing here is refused, and told why.
        let stranger = try Self.startInPod(Self.mallory, node: node, procRoot: procRoot, "hold", ["1"], memory: "64MiB", compute: 5)
        let strangerResult = stranger.finish(timeout: 120)
        #expect(strangerResult.status != 0)
        #expect(strangerResult.stderr.contains("holds no vGPU reservation on node k8s-node"), "\(strangerResult.stderr)")
        // So is a process in no pod at all (the node's own tools place nothing behind the scheduler's back).
        let outside = try Self.start(cgroup: "0::/user.slice/user-1000.slice/session-3.scope\n", node: node, procRoot: procRoot,
                                     "hold", ["1"], memory: "64MiB", compute: 5).finish(timeout: 120)
        #expect(outside.status != 0)
        #expect(outside.stderr.contains("in no Kubernetes pod"), "\(outside.stderr)")
        #expect(try controller.admin.get("/v1/leases", as: [Lease].self).count == 1)

        holder.signalAndWait(SIGKILL)
        #expect(controller.wait { try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty })
        #expect(try controller.admin.get("/v1/reservations", as: [Reservation].self).map(\.id) == [reservation.id])
    }
}
