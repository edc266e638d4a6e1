using RlActors.Environments.Tokenizers;

namespace RlActors.Environments.Tests.Tokenizers;

public class PromptTemplateTests
{
    [Fact]
    public void A_plain_template_puts_the_prompt_in_its_format_and_refuses_a_format_without_exactly_one_placeholder()
    {
        Assert.Equal("Question: 2+2\nAnswer:", PromptTemplate.Plain("Question: {prompt}\nAnswer:").Render("2+2"));
        Assert.Equal("{x}", PromptTemplate.Plain().Render("{x}"));
        Assert.Contains("exactly once", Assert.Throws<ArgumentException>(() => PromptTemplate.Plain("no placeholder")).Message);
        Assert.Contains("exactly once", Assert.Throws<ArgumentException>(() => PromptTemplate.Plain("{prompt}{prompt}")).Message);
        var t = (PlainTemplate)PromptTemplate.Plain("A {prompt}");
        Assert.Throws<ArgumentException>(() => t with { Format = "none" });
        Assert.Equal("B x", (t with { Format = "B {prompt}" }).Render("x"));
    }

    [Fact]
    public void Chat_templates_write_one_user_turn_in_the_markup_of_their_family()
    {
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n",
            PromptTemplate.Parse("chatml", systemPrompt: "Be brief.").Render("2+2?"));
        Assert.Equal("<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            PromptTemplate.Parse("llama3").Render("2+2?"));
        Assert.Equal(ChatStyle.ChatMl, PromptTemplate.DetectChatStyle("{% for message in messages %}{{'<|im_start|>' + message['role'] }}"));
        Assert.Null(PromptTemplate.DetectChatStyle("[INST] {{ content }} [/INST]"));
        Assert.Contains("'alpaca' is not known (known: plain, chatml, llama3)", Assert.Throws<ArgumentException>(() => PromptTemplate.Parse("alpaca")).Message);
    }
}
