using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Transport;
using Google.Protobuf;

namespace RlActors.Actors.Runtime;

/// <summary>
/// Akka.Remote transport adapter (registered as <c>secret</c> in <c>akka.remote.adapters</c>) that lets an association carry
/// messages only after both ends proved they hold the cluster secret (<c>rlactors.cluster.secret</c>): each side sends a fresh
/// 16-byte nonce, then HMAC-SHA256(key, role ‖ own nonce ‖ peer's nonce), and checks the peer's. An association whose peer
/// does not answer correctly within <see cref="HandshakeTimeout"/> is closed before Akka sees a byte from it, so a process
/// without the secret can neither join the cluster nor send a message. The secret itself never crosses the wire. Without TLS
/// the traffic after the handshake is not encrypted (use both; see docs/runtime.md).
/// </summary>
public sealed class SecretTransportAdapterProvider : ITransportAdapterProvider
{
    /// <inheritdoc />
    public Transport Create(Transport wrappedTransport, ExtendedActorSystem system) => new SecretTransportAdapter(wrappedTransport, system);
}

internal sealed class SecretTransportAdapter : AbstractTransportAdapter
{
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(5);
    private const int NonceSize = 16;
    private readonly byte[] key;
    private readonly ILoggingAdapter log;

    public SecretTransportAdapter(Transport wrapped, ExtendedActorSystem system) : base(wrapped)
    {
        string secret = system.Settings.Config.GetString("rlactors.cluster.secret", "");
        if (string.IsNullOrEmpty(secret))
            throw new Akka.Configuration.ConfigurationException("the secret transport adapter is enabled but rlactors.cluster.secret is empty");
        key = SHA256.HashData(Encoding.UTF8.GetBytes("rlactors-cluster-v1:" + secret));
        log = Logging.GetLogger(system, typeof(SecretTransportAdapter));
        System = system;
    }

    protected override SchemeAugmenter SchemeAugmenter { get; } = new("secret");

    protected override Task<IAssociationEventListener> InterceptListen(Address listenAddress, Task<IAssociationEventListener> listenerTask) =>
        Task.FromResult<IAssociationEventListener>(new InboundListener(this, listenerTask));

    protected override void InterceptAssociate(Address remoteAddress, TaskCompletionSource<AssociationHandle> statusPromise)
    {
        WrappedTransport.Associate(remoteAddress).ContinueWith(t =>
        {
            if (!t.IsCompletedSuccessfully) { statusPromise.TrySetException(t.Exception?.InnerException ?? new InvalidOperationException("association failed")); return; }
            new Handshake(this, t.Result, outbound: true, h => statusPromise.TrySetResult(h),
                reason => statusPromise.TrySetException(new InvalidAssociationException($"association with {remoteAddress} refused: {reason}"))).Start();
        }, TaskScheduler.Default);
    }

    private sealed class InboundListener(SecretTransportAdapter adapter, Task<IAssociationEventListener> upstream) : IAssociationEventListener
    {
        public void Notify(IAssociationEvent ev)
        {
            if (ev is not InboundAssociation inbound) return;
            var handle = inbound.Association;
            new Handshake(adapter, handle, outbound: false,
                h => upstream.ContinueWith(u => u.Result.Notify(new InboundAssociation(h)), TaskScheduler.Default),
                reason => adapter.log.Warning("refused an association from {0}: {1}", handle.RemoteAddress, reason)).Start();
        }
    }

    /// <summary>One side of the handshake on one association; afterwards it forwards the association's events upstream.</summary>
    private sealed class Handshake : IHandleEventListener
    {
        private readonly SecretTransportAdapter adapter;
        private readonly AssociationHandle wrapped;
        private readonly bool outbound;
        private readonly Action<AssociationHandle> onOpen;
        private readonly Action<string> onRefused;
        private readonly byte[] nonce = RandomNumberGenerator.GetBytes(NonceSize);
        private readonly object gate = new();
        private readonly List<IHandleEvent> early = new();
        private byte[]? peerNonce;
        private bool open, closed;
        private IHandleEventListener? upstream;
        private Timer? timer;

        public Handshake(SecretTransportAdapter adapter, AssociationHandle wrapped, bool outbound, Action<AssociationHandle> onOpen, Action<string> onRefused)
        {
            (this.adapter, this.wrapped, this.outbound, this.onOpen, this.onRefused) = (adapter, wrapped, outbound, onOpen, onRefused);
        }

        public void Start()
        {
            timer = new Timer(_ => Refuse($"no proof of the cluster secret within {HandshakeTimeout.TotalSeconds:0} s"), null, HandshakeTimeout, Timeout.InfiniteTimeSpan);
            wrapped.ReadHandlerSource.TrySetResult(this);
            if (!wrapped.Write(ByteString.CopyFrom(nonce))) Refuse("the connection did not take the handshake");
        }

        private byte[] Proof(bool ofOutboundSide, byte[] first, byte[] second)
        {
            var data = new byte[1 + 2 * NonceSize];
            data[0] = ofOutboundSide ? (byte)1 : (byte)2;
            first.CopyTo(data, 1);
            second.CopyTo(data, 1 + NonceSize);
            return HMACSHA256.HashData(adapter.key, data);
        }

        public void Notify(IHandleEvent ev)
        {
            SecretHandle? opened = null;
            lock (gate)
            {
                if (closed) return;
                if (open)
                {
                    // Events are handed on under the lock, so the ones that came before the upstream listener stay first.
                    if (upstream is null) early.Add(ev);
                    else upstream.Notify(ev);
                    return;
                }
                if (ev is not InboundPayload p) { Close(); return; } // the peer left during the handshake
                var bytes = p.Payload.ToByteArray();
                if (peerNonce is null)
                {
                    if (bytes.Length != NonceSize) { RefuseLocked("the peer does not speak the secret handshake (no cluster secret?)"); return; }
                    peerNonce = bytes;
                    if (!wrapped.Write(ByteString.CopyFrom(Proof(outbound, nonce, peerNonce)))) RefuseLocked("the connection did not take the handshake");
                    return;
                }
                if (!CryptographicOperations.FixedTimeEquals(bytes, Proof(!outbound, peerNonce, nonce))) { RefuseLocked("the peer's cluster secret differs"); return; }
                open = true;
                timer?.Dispose();
                opened = new SecretHandle(wrapped, adapter.SchemeAugmenter.AddedSchemeIdentifier);
                opened.ReadHandlerSource.Task.ContinueWith(t => Attach(t.Result), TaskScheduler.Default);
            }
            onOpen(opened);
        }

        private void Attach(IHandleEventListener listener)
        {
            lock (gate)
            {
                upstream = listener;
                foreach (var e in early) listener.Notify(e);
                early.Clear();
            }
        }

        private void RefuseLocked(string reason)
        {
            Close();
            Task.Run(() => onRefused(reason));
        }

        private void Refuse(string reason)
        {
            lock (gate)
            {
                if (open || closed) return;
                Close();
            }
            onRefused(reason);
        }

        private void Close()
        {
            closed = true;
            timer?.Dispose();
#pragma warning disable CS0618 // the reasoned overload only adds a debug line
            wrapped.Disassociate();
#pragma warning restore CS0618
        }
    }

    private sealed class SecretHandle(AssociationHandle wrapped, string scheme) : AbstractTransportAdapterHandle(wrapped, scheme)
    {
        public override bool Write(ByteString payload) => WrappedHandle.Write(payload);

#pragma warning disable CS0672 // the abstract member is obsolete; this adapter must still implement it
        public override void Disassociate() =>
#pragma warning disable CS0618
            WrappedHandle.Disassociate();
#pragma warning restore CS0618
#pragma warning restore CS0672
    }
}
