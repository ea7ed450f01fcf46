// Filter + prioritize latency of the scheduler extender for one pod against the Alibaba trace cluster
// (1,213 GPU nodes), as kube-scheduler calls them: JSON in, decisions, JSON out. Baseline, same run: the same
// JSON decoded with Foundation's JSONDecoder and re-encoded with every node kept and scored 0, i.e. what the
// request costs before any placement work the general way. The measured path decodes as the server does
// (ExtenderArgs(json:), which scans NodeNames by hand). Between measured pods the pod is reserved on its best node, so the cluster keeps changing.
//
//   swift run -c release tessera-bench-extender [nodes.csv] [pods]
import Foundation
import Logging
import TesseraKubernetes
import TesseraPlacement

let arguments = CommandLine.arguments
let nodesFile = arguments.count > 1 ? arguments[1] : "../shared/traces/alibaba-gpu-2023/openb_node_list_gpu_node.csv"
let podCount = arguments.count > 2 ? Int(arguments[2]) ?? 2000 : 2000

let nodes = try OpenbTrace.parseNodes(try String(contentsOfFile: nodesFile, encoding: .utf8), file: nodesFile)
let names = nodes.map(\.name)
let models = Array(Set(nodes.flatMap { $0.gpus.map(\.model) })).sorted()
let reservations = try InProcessReservations(nodes: nodes, policy: .tessera)
let extender = SchedulerExtender(
    reservations: reservations,
    kubernetes: KubernetesClient(configuration: .init(baseURL: "http://127.0.0.1:9")),
    logger: Logger(label: "bench"))

func makePod(_ i: Int, models: [String]) -> Pod {
    var random = SystemRandomNumberGenerator()
    let vgpus = [1, 1, 1, 1, 2, 4].randomElement(using: &random)!
    let memory = [1024, 2048, 4096, 8192, 12_288].randomElement(using: &random)!
    let compute = [5, 10, 25, 50, 100].randomElement(using: &random)!
    var annotations: [String: String] = [:]
    if i % 5 == 0 { annotations["tessera.dev/gpu-model"] = models.randomElement(using: &random)! }
    let limits = ["tessera.dev/vgpu": "\(vgpus)", "tessera.dev/vgpu-memory": "\(memory)", "tessera.dev/vgpu-compute": "\(compute)"]
    return Pod(
        metadata: .init(name: "pod-\(i)", namespace: "bench", uid: UUID().uuidString.lowercased(), annotations: annotations),
        spec: .init(containers: [.init(name: "c", resources: .init(limits: limits, requests: limits))]))
}

let encoder = JSONEncoder()
let decoder = JSONDecoder()
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
/// CPU time of this thread: what the work costs without the time spent waiting for a core on a busy machine.
func cpu() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

var measured: [Double] = []
var decisionsOnly: [Double] = []
var baseline: [Double] = []
var measuredCPU: [Double] = []
var baselineCPU: [Double] = []
var kept = 0
for i in 0..<podCount {
    let pod = makePod(i, models: models)
    let body = try encoder.encode(ExtenderArgs(pod: pod, nodeNames: names))

    let bc0 = cpu()
    let b0 = now()
    let plain = try decoder.decode(ExtenderArgs.self, from: body)
    _ = try ExtenderFilterResult(nodeNames: plain.candidateNames).json()
    let plain2 = try decoder.decode(ExtenderArgs.self, from: body)
    _ = HostPriority.json(plain2.candidateNames.map { HostPriority(host: $0, score: 0) })
    let b1 = now()
    let bc1 = cpu()

    let tc0 = cpu()
    let t0 = now()
    let args = try ExtenderArgs(json: body)
    let filtered = extender.filter(args)
    _ = try filtered.json()
    let tFiltered = now()
    let tcFiltered = cpu()
    // kube-scheduler writes the prioritize request (the filter's survivors); not the extender's time.
    let prioritizeBody = try encoder.encode(ExtenderArgs(pod: pod, nodeNames: filtered.nodeNames))
    let tcPrioritize = cpu()
    let tPrioritize = now()
    let args2 = try ExtenderArgs(json: prioritizeBody)
    let priorities = extender.prioritize(args2)
    _ = HostPriority.json(priorities)
    let t1 = now() - (tPrioritize - tFiltered)
    let tc1 = cpu() - (tcPrioritize - tcFiltered)

    let d0 = now()
    _ = extender.filter(args)
    _ = extender.prioritize(args2)
    let d1 = now()
    decisionsOnly.append(Double(d1 - d0) / 1e6)
    measured.append(Double(t1 - t0) / 1e6)
    baseline.append(Double(b1 - b0) / 1e6)
    measuredCPU.append(Double(tc1 - tc0) / 1e6)
    baselineCPU.append(Double(bc1 - bc0) / 1e6)
    kept += filtered.nodeNames?.count ?? 0
    if let best = priorities.max(by: { ($0.score, $1.host) < ($1.score, $0.host) }), filtered.nodeNames?.isEmpty == false,
       let request = try VGPURequest(pod: pod) {
        _ = try? await reservations.reserve(
            request, podUID: pod.metadata.uid!, podNamespace: "bench", podName: pod.metadata.name, on: best.host, now: 0)
    }
}

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}
let reserved = try await reservations.reservations().count
print("extender filter+prioritize, \(nodes.count) nodes, \(podCount) pods (\(reserved) reserved as they went, mean \(kept / podCount) nodes kept)")
for (label, p) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
    let m = percentile(measured, p)
    let b = percentile(baseline, p)
    print(String(format: "  %@  %7.3f ms   baseline (JSON only) %7.3f ms   ratio %5.2f×", label, m, b, m / b))
}
print("  CPU time of the same (without waiting for a core while other processes run):")
for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
    let m = percentile(measuredCPU, p)
    let b = percentile(baselineCPU, p)
    print(String(format: "  %@  %7.3f ms   baseline (JSON only) %7.3f ms   ratio %5.2f×", label, m, b, m / b))
}
print(String(format: "  decisions alone (filter+prioritize without JSON): p50 %.3f ms, p99 %.3f ms",
             percentile(decisionsOnly, 0.5), percentile(decisionsOnly, 0.99)))
print(String(format: "  target p99 < 5 ms: %@", percentile(measured, 0.99) < 5 ? "met" : "NOT met"))
