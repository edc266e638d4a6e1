using System.Net;
using System.Net.Sockets;

namespace RlActors.Host.Tests;

/// <summary>Ports for processes that run in parallel.</summary>
internal static class FreePort
{
    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago (bound on port 0, then released).</summary>
    public static int Next()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try { return ((IPEndPoint)listener.LocalEndpoint).Port; }
        finally { listener.Stop(); }
    }
}
