using RlActors.Environments;
using RlActors.Rewards.Capo;

namespace RlActors.Rewards.Tests.Capo;

public class CritiqueParserTests
{
    [Theory]
    [InlineData("Step 1 is fine.\nStep 3 is off by one.\nWrong steps: [1, 3]", new[] { 1, 3 })]
    [InlineData("wrong steps: 1,3", new[] { 1, 3 })]
    [InlineData("WRONG STEPS: 3, 1, 3", new[] { 1, 3 })]
    [InlineData("Wrong steps: [2]", new[] { 2 })]
    [InlineData("Wrong step: 2", new[] { 2 })]
    [InlineData("Wrong steps:\n[2, 4]", new[] { 2, 4 })]
    [InlineData("**Wrong steps:** [1, 3]", new[] { 1, 3 })]
    [InlineData("**Wrong steps: [1, 3]**", new[] { 1, 3 })]
    [InlineData("### Wrong steps: `[2]`", new[] { 2 })]
    [InlineData("Wrong steps: Step 2 and Step 3", new[] { 2, 3 })]
    [InlineData("Wrong steps: 2-4", new[] { 2, 3, 4 })]
    [InlineData("The incorrect steps are 2 and 4.", new[] { 2, 4 })]
    [InlineData("Wrong steps: [2] because 12-3 is 9, not 8, and step 3 just carries it on.", new[] { 2 })]
    [InlineData("Wrong steps: 2, since 12 - 3 = 9", new[] { 2 })]
    [InlineData("{\"wrong_steps\": [1, 3]}", new[] { 1, 3 })]
    [InlineData("```json\n{\"wrong_steps\":[4]}\n```", new[] { 4 })]
    [InlineData("{'wrongSteps': [2]}", new[] { 2 })]
    [InlineData("Analysis...\nStep 2 and Step 3", new[] { 2, 3 })]
    [InlineData("Analysis...\nSteps 2, 3", new[] { 2, 3 })]
    [InlineData("Analysis...\n[1, 3]", new[] { 1, 3 })]
    [InlineData("Analysis...\nStep 2 is wrong.", new[] { 2 })]
    [InlineData("Analysis...\nFinal answer: [3]", new[] { 3 })]
    [InlineData("Wrong steps: [Step 1, Step 3]", new[] { 1, 3 })]
    [InlineData("The wrong steps are step 2 (12-3=8) and step 3 (uses 8).", new[] { 2, 3 })]
    [InlineData("Wrong steps: [2 (arithmetic, 12-3 is 9), 3]", new[] { 2, 3 })]
    public void Parser_reads_the_list_forms_an_LLM_writes(string text, int[] expected)
    {
        Critique c = CritiqueParser.Parse(text, stepCount: 4);
        Assert.Equal(CritiqueStatus.Valid, c.Status);
        Assert.Equal(expected, c.WrongSteps);
        Assert.Null(c.Detail);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("None.")]
    [InlineData("Wrong steps: none")]
    [InlineData("**Wrong steps:** None")]
    [InlineData("Wrong steps: []")]
    [InlineData("[]")]
    [InlineData("{\"wrong_steps\": []}")]
    [InlineData("{\"wrong_steps\": null}")]
    [InlineData("Step 1: 7+5=12 is correct.\nStep 2: 12-3=9 is correct.\nThere are no wrong steps.")]
    [InlineData("Every step checks out.\nAll steps are correct.")]
    public void Parser_reads_nothing_wrong_as_a_valid_empty_list(string text)
    {
        Critique c = CritiqueParser.Parse(text, stepCount: 3);
        Assert.Equal(CritiqueStatus.Valid, c.Status);
        Assert.Empty(c.WrongSteps);
    }

    [Fact]
    public void When_the_analysis_mentions_steps_the_last_conclusion_wins()
    {
        const string text = """
            Step 1: 7+5=12. Correct.
            Step 2: 12-3=8. This is wrong: 12-3=9. Wrong step: 2 so far.
            Step 3: 8*2=16. Follows from step 2, so it is correct on its own.
            Let me double-check step 1... yes, fine.

            **Wrong steps:** [2]

            I hope this helps! Let me know if you want me to look at step 3 again.
            """;
        Critique c = CritiqueParser.Parse(text, stepCount: 3);
        Assert.Equal(CritiqueStatus.Valid, c.Status);
        Assert.Equal([2], c.WrongSteps);

        // Two keyed lists: the judge changed its mind, the later one counts.
        Assert.Equal([3], CritiqueParser.Parse("Wrong steps: [1, 3]\nOn reflection step 1 is fine.\nWrong steps: [3]", 3).WrongSteps);
        // A bare list on the last line comes after the keyed one.
        Assert.Equal([1, 2], CritiqueParser.Parse("Wrong steps: [2]\nCorrection:\nSteps 1, 2", 3).WrongSteps);
    }

    [Fact]
    public void A_count_of_wrong_steps_is_not_read_as_a_list()
    {
        Critique c = CritiqueParser.Parse("The number of wrong steps is 2.\nWrong steps: [1, 3]", 3);
        Assert.Equal([1, 3], c.WrongSteps);
        Assert.Equal(CritiqueStatus.Unparseable, CritiqueParser.Parse("The number of wrong steps is 2.", 3).Status);
    }

    [Theory]
    [InlineData("Wrong steps: [0, 2]", "step 0 is outside 1..3")]
    [InlineData("Wrong steps: [2, 5]", "step 5 is outside 1..3")]
    [InlineData("Wrong steps: 4", "step 4 is outside 1..3")]
    [InlineData("Wrong steps: 2-7", "step 7 is outside 1..3")]
    [InlineData("Wrong steps: [-1]", "step -1 is outside 1..3")]
    public void Step_numbers_outside_the_response_make_the_critique_unparseable_and_say_so(string text, string detail)
    {
        Critique c = CritiqueParser.Parse(text, stepCount: 3);
        Assert.Equal(CritiqueStatus.Unparseable, c.Status);
        Assert.Empty(c.WrongSteps);
        Assert.Contains(detail, c.Detail);
    }

    [Fact]
    public void Any_step_named_for_a_response_without_steps_is_out_of_range()
    {
        Critique c = CritiqueParser.Parse("Wrong steps: [1]", stepCount: 0);
        Assert.Equal(CritiqueStatus.Unparseable, c.Status);
        Assert.Contains("no steps", c.Detail);
        Assert.Equal(CritiqueStatus.Valid, CritiqueParser.Parse("Wrong steps: none", stepCount: 0).Status);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n  ")]
    [InlineData("I think the student did a good job overall.")]
    [InlineData("Step 1: 7+5=12 is correct.\nStep 2: 12-3=9 is correct.")]
    [InlineData("Step 2 is correct.")]
    [InlineData("Wrong steps: [see above]")]
    [InlineData("Wrong steps:")]
    [InlineData("Answer: 9")]
    public void Text_without_a_recognisable_conclusion_is_unparseable(string text)
    {
        Critique c = CritiqueParser.Parse(text, stepCount: 3);
        Assert.Equal(CritiqueStatus.Unparseable, c.Status);
        Assert.Empty(c.WrongSteps);
        Assert.False(string.IsNullOrEmpty(c.Detail));
    }

    [Fact]
    public void Parser_never_throws_on_random_text_and_valid_lists_stay_in_range()
    {
        const string alphabet = "wrong steps WRONG Step none:[]{}\"',;-–&and 0123456789 \n*#_`\\/$ɑ€\u0000\ud800";
        string[] fragments = ["Wrong steps:", "[", "]", "none", "Step ", "and", "{\"wrong_steps\":", "}", "\n", "9999999999999999999", "-", "**"];
        var random = new SplitMix64(20240601);
        for (int i = 0; i < 400; i++)
        {
            var text = new System.Text.StringBuilder();
            int parts = random.NextInt32(30);
            for (int p = 0; p < parts; p++)
            {
                if (random.NextInt32(3) == 0)
                    text.Append(fragments[random.NextInt32(fragments.Length)]);
                else
                    text.Append(alphabet[random.NextInt32(alphabet.Length)]);
            }
            int steps = random.NextInt32(6);
            Critique c = CritiqueParser.Parse(text.ToString(), steps);
            Assert.NotNull(c.WrongSteps);
            if (c.Status == CritiqueStatus.Valid)
            {
                Assert.All(c.WrongSteps, s => Assert.InRange(s, 1, steps));
                Assert.Equal(c.WrongSteps.Distinct().Order(), c.WrongSteps);
            }
            else
            {
                Assert.Equal(CritiqueStatus.Unparseable, c.Status);
                Assert.Empty(c.WrongSteps);
                Assert.NotNull(c.Detail);
            }
        }
        Assert.Equal(CritiqueStatus.Unparseable, CritiqueParser.Parse(null!, 3).Status);
        Assert.Equal(CritiqueStatus.Unparseable, CritiqueParser.Parse(new string('[', 200_000), 3).Status);
    }
}
