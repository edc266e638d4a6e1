using RlActors.Policies.Ccl;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlActors.Policies.Tests.Ccl;

/// <summary>The stop-gradient makes every loss term local: the term of pair l trains W_l and B_{l+1} and nothing else.</summary>
public class CclStopGradientTests
{
    private static bool HasGradient(Parameter p) => p.grad is { } g && g.abs().max().item<float>() > 0;

    /// <summary>Terms of one CCL classification step on random data (pairs 0 … L−1, then the output cross-entropy).</summary>
    private static List<Tensor> Terms(CclNetwork net, CclSimilarity kind, bool detach, ulong seed)
    {
        using var data = CclTestData.Random(8, net.Architecture.InputWidth, 10, seed);
        var acts = net.Forward(data.Inputs, detach);
        var signals = net.Feedback(CclLoss.FeedbackInput(data.Labels, 10, kind), detach);
        return CclLoss.Classification(acts, signals, data.Labels, kind, 0.5, 0.5).Terms;
    }

    public static TheoryData<string, CclSimilarity> Cases => new()
    {
        { "mlp", CclSimilarity.BatchNormalised },
        { "mlp", CclSimilarity.ClassTemplate },
        { "cnn", CclSimilarity.ClassTemplateDecorrelated },
        { "cnn", CclSimilarity.BatchNormalised },
    };

    private static CclNetwork Build(string kind) => kind == "mlp"
        ? new CclNetwork(CclArchitecture.Mlp(20, 16, 12, 10), 3)
        : new CclNetwork(CclArchitecture.Cnn([1, 4, 6], side: 8, outputs: 10), 3);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_layer_term_reaches_only_its_own_forward_weight_and_the_next_feedback_weight(string kind, CclSimilarity similarity)
    {
        using var net = Build(kind);
        var layers = net.Layers;
        int depth = net.Depth;
        for (int pair = 0; pair <= depth; pair++)
        {
            net.zero_grad();
            var terms = Terms(net, similarity, detach: true, seed: (ulong)(10 + pair));
            terms[pair].backward();
            for (int l = 1; l <= depth; l++)
            {
                // W_l lives in layers[l−1]; the term of pair p trains W_p (for p ≥ 1; the output term is pair L).
                bool forwardExpected = l == pair;
                // B_l maps c_l to c_{l−1}, so it is trained by pair l−1 (the output term has no feedback signal).
                bool feedbackExpected = pair < depth && l == pair + 1;
                Assert.All(layers[l - 1].ForwardParameters().Where(p => p.dim() > 1),
                    p => Assert.True(HasGradient(p) == forwardExpected, $"{kind} pair {pair}: W_{l} gradient {(forwardExpected ? "missing" : "leaked")}"));
                Assert.All(layers[l - 1].FeedbackParameters().Where(p => p.dim() > 1),
                    p => Assert.True(HasGradient(p) == feedbackExpected, $"{kind} pair {pair}: B_{l} gradient {(feedbackExpected ? "missing" : "leaked")}"));
            }
        }
    }

    [Fact]
    public void Without_the_stop_gradient_the_output_loss_reaches_every_forward_weight()
    {
        // The contrast that makes the test above meaningful: the same terms, undetached, backpropagate.
        using var net = Build("mlp");
        var terms = Terms(net, CclSimilarity.BatchNormalised, detach: false, seed: 5);
        terms[^1].backward();
        Assert.All(net.Layers, layer => Assert.True(HasGradient(layer.ForwardParameters().First())));
    }
}
