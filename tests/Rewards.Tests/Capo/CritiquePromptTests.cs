using RlActors.Rewards.Capo;
using static RlActors.Rewards.Tests.Capo.CapoTestData;

namespace RlActors.Rewards.Tests.Capo;

public class CritiquePromptTests
{
    [Fact]
    public void The_prompt_shows_the_problem_and_numbered_steps_and_asks_for_the_wrong_steps_line()
    {
        CritiqueRequest r = Request(ThreeOps, "7+5=12\n12-3=8\n8*2=16\nA:16", key: "step-3/slot-1/2");

        Assert.Equal("step-3/slot-1/2", r.ResponseKey);
        Assert.Equal(3, r.StepCount);
        Assert.Equal(CritiquePrompt.Version, r.TemplateVersion);
        Assert.Equal("capo-critique/v1", r.TemplateVersion);
        Assert.Contains("judge every step on its own", r.System, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Problem: 7+5-3*2", r.User.Replace("(", "").Replace(")", ""));
        Assert.Contains("Step 1: 7+5=12\nStep 2: 12-3=8\nStep 3: 8*2=16\nAnswer: 16", r.User);
        Assert.Contains("Wrong steps: [i, j]", r.User);
        Assert.EndsWith("Wrong steps: none", r.User);
    }

    [Fact]
    public void A_response_without_steps_or_answer_still_gets_a_prompt_with_zero_steps()
    {
        CritiqueRequest r = Request(ThreeOps, "");
        Assert.Equal(0, r.StepCount);
        Assert.Contains("(0 steps)", r.User);
        Assert.Contains("Answer: (none)", r.User);
    }

    [Fact]
    public void The_prompt_is_the_same_for_the_same_response()
    {
        Assert.Equal(Request(ThreeOps, "7+5=12\nA:12").User, Request(ThreeOps, "7+5=12\nA:12").User);
    }
}
