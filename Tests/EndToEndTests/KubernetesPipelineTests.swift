import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TesseraDevicePlugin
import TesseraKubernetes
import TesseraPoolAPI
import TesseraTestSupport

/// A stream of student pods through everything Kubernetes does with them, on simulated GPUs: kube-scheduler's
/// filter → prioritize → bind calls to the real `tessera scheduler`, the kubelet's GetPreferredAllocation →
/// Allocate on the chosen node's real `tessera node` device plugin, and a CUDA sample started with exactly the
/// container's environment in the pod's cgroup, which gets its pod's reservation from the real controller.
/// Stand-ins only for what cannot run here: the Kubernetes API server, the two kubelets, and the kernel's
/// `/proc/<pid>/cgroup` files (a `--proc-root` the programs write for their own pid before exec).
@Suite(.serialized) struct KubernetesPipelineTests {
    static let nodeNames = ["gpu-a", "gpu-b"]
    /// Where containers see the runtime libraries (the plugin's default, mounted from the node's library folder).
    static let containerLibraryDirectory = "/usr/local/tessera/lib"

    /// One pod of the stream: its slice and the sample that checks it.
    struct Student: Sendable {
        var name: String
        var uid: String
        var vgpus: Int
        var memoryMiB: Int
        var computePercent: Int
        var computeMode = "share"
        /// The sample and its arguments; `expected` is in its output on success.
        var program: [String] = []
        var expected = ""
        /// cgroupfs layout (`…/kubepods/burstable/pod<uid>/…`) rather than systemd's.
        var cgroupfs = false

        var pod: Pod {
            Fixtures.pod(name, uid: uid, vgpus: vgpus, memory: memoryMiB, compute: computePercent,
                         annotations: computeMode == "share" ? [:] : ["tessera.dev/compute-mode": computeMode])
        }

        var qualifiedName: String { "students/\(name)" }

        /// The process's `/proc/<pid>/cgroup` as the kubelet's cgroup driver makes it.
        var cgroup: String {
            if cgroupfs {
                return "12:memory:/kubepods/burstable/pod\(uid)/5e2d0c\n11:cpu,cpuacct:/kubepods/burstable/pod\(uid)/5e2d0c\n"
            }
            let slice = "kubepods-burstable-pod\(uid.replacingOccurrences(of: "-", with: "_")).slice"
            return "0::/kubepods.slice/kubepods-burstable.slice/\(slice)/cri-containerd-9a7b.scope\n"
        }
    }

    /// A pod the scheduler placed and the kubelet admitted.
    struct Admitted: Sendable {
        var student: Student
        var node: String
        var deviceIDs: [String]
        /// The container's environment from Allocate, container paths turned into the host paths mounted there.
        var environment: [String: String]
    }

    static let students: [Student] = [
        Student(name: "alice", uid: Fixtures.uid(0xa1), vgpus: 1, memoryMiB: 256, computePercent: 20,
                program: ["quota", "256"], expected: "quota OK \(256 << 20)"),
        Student(name: "bob", uid: Fixtures.uid(0xb0), vgpus: 1, memoryMiB: 512, computePercent: 50,
                program: ["quota", "512"], expected: "quota OK \(512 << 20)", cgroupfs: true),
        Student(name: "carol", uid: Fixtures.uid(0xc0), vgpus: 2, memoryMiB: 128, computePercent: 10,
                program: ["multigpu", "2", "128"], expected: "multigpu OK devices=2"),
        Student(name: "dave", uid: Fixtures.uid(0xd0), vgpus: 1, memoryMiB: 64, computePercent: 30, computeMode: "limit",
                program: ["vadd", "65536", "3"], expected: "vadd OK n=65536", cgroupfs: true),
        // Larger than any GPU (1 GiB each): filtered out everywhere, stays Pending.
        Student(name: "frank", uid: Fixtures.uid(0xf0), vgpus: 1, memoryMiB: 4096, computePercent: 10),
        Student(name: "erin", uid: Fixtures.uid(0xe0), vgpus: 1, memoryMiB: 768, computePercent: 40,
                program: ["quota", "768"], expected: "quota OK \(768 << 20)"),
        Student(name: "grace", uid: Fixtures.uid(0x90), vgpus: 1, memoryMiB: 96, computePercent: 15,
                program: ["vadd", "4096", "2"], expected: "vadd OK n=4096"),
        // Two large vGPUs on distinct GPUs: only a node with two GPUs that much free can host it.
        Student(name: "heidi", uid: Fixtures.uid(0x4e1d), vgpus: 2, memoryMiB: 900, computePercent: 10,
                program: ["multigpu", "2", "900"], expected: "multigpu OK devices=2", cgroupfs: true),
    ]

    @Test func podsAreScheduledAdmittedAndRunInTheirOwnIdentity() async throws {
        _ = try await onOwnThread { Products.samples }  // built once, before any daemon starts
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-k8s-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The node's runtime library folder, as the image installs it: NVIDIA's sonames, Tessera's runtime.
        let libraries = directory.appendingPathComponent("lib").path
        try FileManager.default.createDirectory(atPath: libraries, withIntermediateDirectories: true)
        for major in [13, 12] {
            try FileManager.default.createSymbolicLink(
                atPath: "\(libraries)/libcudart.so.\(major)",
                withDestinationPath: Products.buildDirectory.appendingPathComponent("libTesseraCudart\(major).so").path)
        }
        let procRoot = directory.appendingPathComponent("proc").path
        try FileManager.default.createDirectory(atPath: procRoot, withIntermediateDirectories: true)

        let controller = try await onOwnThread { try TestController(nodeTimeout: 10) }
        let kubeletDirectories = try Self.nodeNames.map { _ in try KubeletDirectory() }
        var nodes: [String: PoolNode] = [:]
        for (name, kubelet) in zip(Self.nodeNames, kubeletDirectories) {
            nodes[name] = try await onOwnThread {
                try PoolNode(name, controller: controller, gpus: 2, memory: "1GiB", extraArguments: [
                    "--pod-reservations", "--proc-root", procRoot, "--kubelet-dir", kubelet.path, "--vgpus-per-gpu", "8",
                    "--runtime-library-dir", libraries, "--container-library-dir", Self.containerLibraryDirectory,
                ])
            }
        }
        let poolNodes = nodes
        let api = KubernetesAPIStandIn()
        // The stand-ins and this test's awaits on a thread of their own (see StandInExecutor).
        try await withTaskExecutorPreference(StandInExecutor.shared) { try await withThrowingTaskGroup(of: Void.self) { group in
            let (ports, port) = AsyncStream.makeStream(of: Int.self)
            group.addTask { try await api.serve { port.yield($0) } }
            var iterator = ports.makeAsyncIterator()
            let apiPort = try #require(await iterator.next())
            defer { group.cancelAll() }
            let scheduler = try await onOwnThread { try SchedulerProcess(controller: controller, kubeAPI: "http://127.0.0.1:\(apiPort)", in: directory) }
            defer { scheduler.process.signalAndWait(SIGTERM) }
            try await withKubelet(kubeletDirectories[0].path) { kubeletA in
                try await withKubelet(kubeletDirectories[1].path) { kubeletB in
                    let kubelets = [Self.nodeNames[0]: kubeletA, Self.nodeNames[1]: kubeletB]
                    for (name, kubelet) in kubelets {
                        let registered = await kubelet.wait { !$0.registrations.isEmpty && $0.deviceLists.last?.count == 16 }
                        try #require(registered, "node \(name) log:\n\(poolNodes[name]!.process.stderr)")
                    }
                    try await Self.runStream(
                        api: api, scheduler: scheduler, kubelets: kubelets, nodes: poolNodes, controller: controller,
                        procRoot: procRoot, libraries: libraries)
                }
            }
        } }
    }

    static func runStream(
        api: KubernetesAPIStandIn, scheduler: SchedulerProcess, kubelets: [String: KubeletStandIn], nodes: [String: PoolNode],
        controller: TestController, procRoot: String, libraries: String
    ) async throws {
        // 1–2. Each pod in turn: kube-scheduler's three calls, then the chosen node's kubelet admits it.
        var admitted: [Admitted] = []
        var unscheduled: [Student] = []
        for student in students {
            let pod = student.pod
            api.add(pod)
            // Which nodes can host it, from the controller's own account of its GPUs.
            let gpus = try await onOwnThread { try controller.admin.get("/v1/gpus", as: [GPUInfo].self) }
            let hosts = nodeNames.filter { node in
                gpus.filter {
                    $0.node == node && $0.healthy && $0.nodeUp && $0.memoryMiB - $0.grantedMemoryMiB >= student.memoryMiB
                        && 100 - $0.grantedComputePercent >= student.computePercent
                }.count >= student.vgpus  // spread: each vGPU on its own GPU
            }
            let filter = try await scheduler.post("filter", Fixtures.argsWithNames(pod, nodeNames))
            let feasible = filter["NodeNames"] as? [String] ?? []
            let failed = filter["FailedNodes"] as? [String: String] ?? [:]
            #expect((filter["Error"] as? String ?? "").isEmpty, "\(student.name): \(filter)")
            #expect(feasible == hosts, "\(student.name): \(filter)\n\(gpus)")
            #expect(Set(failed.keys) == Set(nodeNames).subtracting(hosts), "\(student.name): \(filter)")
            for (node, reason) in failed {
                #expect(reason.hasPrefix("cannot host") && reason.contains("free per GPU"), "\(node): \(reason)")
            }
            guard !feasible.isEmpty else {
                // kube-scheduler calls nothing else: the pod stays Pending.
                unscheduled.append(student)
                continue
            }
            let priorities = try await scheduler.postArray("prioritize", Fixtures.argsWithNames(pod, feasible))
            var best: (host: String, score: Int)?
            for entry in priorities {
                let host = try #require(entry["Host"] as? String), score = try #require(entry["Score"] as? Int)
                #expect((0...10).contains(score) && feasible.contains(host), "\(entry)")
                // kube-scheduler takes the highest score (ties: here the first, in the order the nodes were sent).
                if best == nil || score > best!.score { best = (host, score) }
            }
            let node = try #require(best?.host, "\(student.name): no priorities")
            let bind = try await scheduler.post("bind", Fixtures.bindingArgs(pod, node: node))
            #expect((bind["Error"] as? String ?? "").isEmpty, "\(student.name): \(bind)")
            #expect(api.bindings.contains { $0.pod == student.qualifiedName && $0.uid == student.uid && $0.node == node })
            #expect(api.pod(student.qualifiedName)?.spec.nodeName == node)
            let found = try await onOwnThread { try reservationOf(student, in: controller) }
            let reservation = try #require(found, "\(student.name): no reservation")
            #expect(reservation.vgpus.count == student.vgpus && reservation.vgpus.allSatisfy {
                $0.node == node && $0.memoryMiB == student.memoryMiB && $0.computePercent == student.computePercent
            }, "\(reservation)")
            #expect(reservation.spec.computeMode == student.computeMode)
            #expect(reservation.claimedBy == nil)

            let admission = try await kubelets[node]!.admit(
                namespace: "students", name: student.name, container: "notebook", count: student.vgpus)
            #expect(admission.deviceIDs.count == student.vgpus)
            let envs = admission.response.envs
            #expect(envs["TESSERA_VGPUS"] == "\(student.vgpus)")
            #expect(envs["TESSERA_ENDPOINT"] == nodes[node]!.socketPath)
            #expect(envs["LD_LIBRARY_PATH"]?.hasPrefix(containerLibraryDirectory + ":") == true)
            #expect(admission.response.mounts.contains { $0.containerPath == containerLibraryDirectory && $0.hostPath == libraries })
            admitted.append(Admitted(student: student, node: node, deviceIDs: admission.deviceIDs,
                                     environment: hostEnvironment(admission.response)))
        }
        let admittedPods = admitted
        // Larger than any GPU, frank fits nowhere; the others fill both nodes (how, is the policy's choice).
        let frank = try #require(students.first { $0.name == "frank" })
        #expect(unscheduled.map(\.name) == ["frank"])
        #expect(Set(admitted.map(\.node)) == Set(nodeNames), "\(admitted.map { "\($0.student.name)@\($0.node)" })")
        for student in unscheduled {
            #expect(api.pod(student.qualifiedName)?.spec.nodeName == nil)
            #expect(try await onOwnThread { try reservationOf(student, in: controller) } == nil)
        }
        // The kubelets' pod-resources answers name each pod's devices, none given twice.
        for (node, kubelet) in kubelets {
            let listed = kubelet.record.withLock { $0.podResources }
            let expected = admitted.filter { $0.node == node }
            #expect(Set(listed.map { "\($0.namespace)/\($0.name)" }) == Set(expected.map(\.student.qualifiedName)))
            let ids = listed.flatMap { $0.containers.flatMap { $0.devices.flatMap(\.deviceIds) } }
            #expect(Set(ids).count == ids.count && ids.count == expected.reduce(0) { $0 + $1.deviceIDs.count })
        }
        try await expectGrantedCapacityMatchesReservations(controller)

        // 3. Every pod's program at once, holding memory: each claims its own pod's reservation on its node.
        let holders = admitted.map { pod in
            startInPod(cgroup: pod.student.cgroup, procRoot: procRoot, environment: pod.environment, ["hold", "16"])
        }
        defer { for holder in holders where holder.process.isRunning { holder.signalAndWait(SIGKILL) } }
        for (pod, holder) in zip(admitted, holders) {
            let ready = try await onOwnThread { holder.waitForOutput("READY", timeout: 180) }
            #expect(ready, "\(pod.student.name): \(holder.stderr)")
        }
        for pod in admitted {
            let (reservation, lease) = try await onOwnThread { () throws -> (Reservation?, Lease?) in
                let reservation = try reservationOf(pod.student, in: controller)
                let lease = try reservation?.claimedBy.map { try controller.admin.get("/v1/leases/\($0)", as: Lease.self) }
                return (reservation, lease)
            }
            let claimed = try #require(lease, "\(pod.student.name): reservation not claimed: \(String(describing: reservation))")
            #expect(claimed.vgpus.map { "\($0.node)/\($0.gpu)" } == reservation?.vgpus.map { "\($0.node)/\($0.gpu)" },
                    "\(pod.student.name): the lease holds the reservation's vGPUs")
            #expect(claimed.vgpus.count == pod.student.vgpus && claimed.vgpus.allSatisfy { $0.node == pod.node && $0.memoryMiB == pod.student.memoryMiB })
            #expect(claimed.spec.computeMode == pod.student.computeMode)
        }
        // Nothing placed anew: one lease per pod, each from its reservation.
        #expect(try await onOwnThread { try controller.admin.get("/v1/leases", as: [Lease].self).count } == admitted.count)
        for holder in holders { try await onOwnThread { holder.signalAndWait(SIGKILL) } }
        // The programs are gone; the reservations are their pods' again, unclaimed.
        let released = try await onOwnThread {
            controller.wait(timeout: 60) {
                try controller.admin.get("/v1/leases", as: [Lease].self).isEmpty
                    && admittedPods.allSatisfy { pod in
                        guard let reservation = try? reservationOf(pod.student, in: controller) else { return false }
                        return reservation.claimedBy == nil
                    }
            }
        }
        #expect(released)

        // Each pod's sample checks its slice: exactly the pod's memory (the environment asks for 8 GiB), kernels'
        // results, every vGPU of a multi-vGPU pod.
        let runs = admitted.map { pod in startInPod(cgroup: pod.student.cgroup, procRoot: procRoot, environment: pod.environment, pod.student.program) }
        for (pod, run) in zip(admitted, runs) {
            let result = try await onOwnThread { run.finish(timeout: 300) }
            #expect(result.status == 0 && result.stdout.contains(pod.student.expected),
                    "\(pod.student.name) on \(pod.node): status \(result.status)\n\(result.stdout)\n\(result.stderr)")
        }

        // 4. Programs without a reservation on the node they reach are refused, told why.
        let first = try #require(admitted.first)
        let other = try #require(nodeNames.first { $0 != first.node })
        var elsewhere = first.environment
        elsewhere["TESSERA_ENDPOINT"] = nodes[other]!.socketPath
        let mallory = Student(name: "mallory", uid: Fixtures.uid(0xbad), vgpus: 1, memoryMiB: 64, computePercent: 5)
        let refusals: [(String, String, [String: String], String)] = [
            ("a pod that reserved nothing", mallory.cgroup, first.environment, "holds no vGPU reservation on node \(first.node)"),
            ("the unscheduled pod", frank.cgroup, first.environment, "holds no vGPU reservation on node \(first.node)"),
            ("\(first.student.name) on the other node", first.student.cgroup, elsewhere, "holds no vGPU reservation on node \(other)"),
            ("a process in no pod", "0::/user.slice/user-1000.slice/session-3.scope\n", first.environment, "in no Kubernetes pod"),
        ]
        for (what, cgroup, environment, reason) in refusals {
            let result = try await onOwnThread { startInPod(cgroup: cgroup, procRoot: procRoot, environment: environment, ["quota", "64"]).finish(timeout: 120) }
            #expect(result.status != 0 && result.stderr.contains(reason), "\(what): status \(result.status)\n\(result.stderr)")
        }

        // A pod deleted from the API: the extender's reconciliation releases its reservation, its capacity returns,
        // and a program still claiming to be in it gets nothing.
        let deleted = try #require(admitted.first { $0.student.name == "bob" })
        // The kubelet forgets the pod first (it is being torn down): its reservation still exists, yet the node
        // grants nothing the kubelet's pod-resources API does not confirm.
        kubelets[deleted.node]!.remove(namespace: "students", name: deleted.student.name)
        let unconfirmed = try await onOwnThread {
            startInPod(cgroup: deleted.student.cgroup, procRoot: procRoot, environment: deleted.environment, ["quota", "64"]).finish(timeout: 120)
        }
        #expect(unconfirmed.status != 0
                    && unconfirmed.stderr.contains("the kubelet reports no tessera.dev/vgpu devices for pod \(deleted.student.qualifiedName)"),
                "\(unconfirmed.stderr)")
        api.delete(deleted.student.qualifiedName)
        let gone = try await onOwnThread { controller.wait(timeout: 90) { try reservationOf(deleted.student, in: controller) == nil } }
        #expect(gone, "scheduler log:\n\(scheduler.process.stderr)")
        try await expectGrantedCapacityMatchesReservations(controller)
        #expect(try await onOwnThread { try controller.admin.get("/v1/reservations", as: [Reservation].self).count } == admitted.count - 1)
        let late = try await onOwnThread {
            startInPod(cgroup: deleted.student.cgroup, procRoot: procRoot, environment: deleted.environment, ["quota", "64"]).finish(timeout: 120)
        }
        #expect(late.status != 0 && late.stderr.contains("holds no vGPU reservation on node \(deleted.node)"), "\(late.stderr)")
    }

    /// The pod's reservation in the controller (consumer `pod/<UID>`), if any.
    static func reservationOf(_ student: Student, in controller: TestController) throws -> Reservation? {
        let held = try controller.admin.get("/v1/reservations?consumer=pod%2F\(student.uid)", as: [Reservation].self)
        return held.first
    }

    /// What the controller counts as granted on its GPUs is exactly what the pods reserved.
    static func expectGrantedCapacityMatchesReservations(_ controller: TestController) async throws {
        let (gpus, reservations) = try await onOwnThread {
            (try controller.admin.get("/v1/gpus", as: [GPUInfo].self), try controller.admin.get("/v1/reservations", as: [Reservation].self))
        }
        var reserved: [String: (memory: Int, compute: Int)] = [:]
        for vgpu in reservations.flatMap(\.vgpus) {
            reserved["\(vgpu.node)/\(vgpu.gpu)", default: (0, 0)].memory += vgpu.memoryMiB
            reserved["\(vgpu.node)/\(vgpu.gpu)", default: (0, 0)].compute += vgpu.computePercent
        }
        for gpu in gpus {
            let mine = reserved["\(gpu.node)/\(gpu.index)"] ?? (0, 0)
            #expect(gpu.grantedMemoryMiB == mine.memory && gpu.grantedComputePercent == mine.compute, "\(gpu.node)/\(gpu.index): \(gpu)")
        }
    }

    /// The container's environment as its processes see it, with the paths of the mounts the plugin asked for
    /// replaced by their host paths (the test's "container" is the host).
    static func hostEnvironment(_ response: V1beta1_ContainerAllocateResponse) -> [String: String] {
        func host(_ element: Substring) -> String {
            for mount in response.mounts where element == mount.containerPath || element.hasPrefix(mount.containerPath + "/") {
                return mount.hostPath + element.dropFirst(mount.containerPath.count)
            }
            return String(element)
        }
        var environment = response.envs.mapValues { $0.split(separator: ":", omittingEmptySubsequences: false).map(host).joined(separator: ":") }
        environment["PATH"] = "/usr/bin:/bin"
        // What the program would like; the node grants what the pod reserved instead.
        environment["TESSERA_MEMORY"] = "8GiB"
        environment["TESSERA_COMPUTE"] = "100"
        return environment
    }

    /// Starts `program` (a sample and its arguments) with exactly `environment`, as a process whose
    /// `<procRoot>/<pid>/cgroup` reads `cgroup`: a shell writes the file for its own pid, then becomes the program
    /// by exec (same pid, as a container's process would be).
    static func startInPod(cgroup: String, procRoot: String, environment: [String: String], _ program: [String]) -> RunningCommand {
        let script = #"mkdir -p "$0/$$" && printf '%s' "$1" > "$0/$$/cgroup" && shift && exec "$@""#
        return Command.start("/bin/sh", ["-c", script, procRoot, cgroup, Products.sample(program[0])] + program.dropFirst(),
                             environment: environment, inheritingEnvironment: false)
    }
}

/// A real `tessera scheduler` (the extender) holding reservations in `controller` and binding through the
/// Kubernetes API stand-in; the test speaks kube-scheduler's side of its HTTP API.
final class SchedulerProcess: @unchecked Sendable {
    let process: RunningCommand
    let url: String

    init(controller: TestController, kubeAPI: String, in directory: URL) throws {
        let tokenFile = directory.appendingPathComponent("scheduler.token").path
        try Data(TestController.schedulerToken.utf8).write(to: URL(fileURLWithPath: tokenFile))
        process = Command.start(Products.tessera.path, [
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--path-prefix", "/tessera",
            "--controller", controller.url, "--controller-token-file", tokenFile, "--kube-api", kubeAPI,
            "--refresh-interval", "0.5", "--reconcile-interval", "1", "--log-level", "debug",
        ])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let line = process.stderr.split(separator: "\n").first(where: { $0.contains("serving the scheduler extender") }),
               let range = line.range(of: "port=") {
                let port = line[range.upperBound...].prefix { $0.isNumber }
                if !port.isEmpty {
                    url = "http://127.0.0.1:\(port)/tessera"
                    return
                }
            }
            guard process.process.isRunning else { break }
            usleep(20_000)
        }
        process.signalAndWait(SIGKILL)
        throw TestFailure("scheduler did not start:\n\(process.stderr)")
    }

    /// POSTs kube-scheduler's JSON to `verb`; the answer must be 200 with a JSON object.
    func post(_ verb: String, _ json: String) async throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: try await send(verb, json))
        return try #require(object as? [String: Any], "\(verb) answered \(object)")
    }

    /// POSTs to `verb` whose answer is a JSON array of objects (prioritize).
    func postArray(_ verb: String, _ json: String) async throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: try await send(verb, json))
        return try #require(object as? [[String: Any]], "\(verb) answered \(object)")
    }

    private func send(_ verb: String, _ json: String) async throws -> Data {
        var request = URLRequest(url: URL(string: "\(url)/\(verb)")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        request.timeoutInterval = 60
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw TestFailure("\(verb): HTTP \(status): \(String(decoding: data, as: UTF8.self))") }
        return data
    }
}

