import GRPCCore
import TesseraKubernetes

extension KubernetesError {
    /// The gRPC status the kubelet sees for this error: the one place codes map to gRPC.
    var rpcError: RPCError {
        let code: RPCError.Code = switch self.code {
        case .invalidRequest: .invalidArgument
        case .notFound: .notFound
        case .conflict: .failedPrecondition
        default: .unavailable
        }
        return RPCError(code: code, message: message)
    }
}
