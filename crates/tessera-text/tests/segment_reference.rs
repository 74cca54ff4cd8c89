//! Segmentation against Python jieba 0.42.1 fixtures and against `jieba-rs` on the same text.

use jieba_rs::Jieba;
use tessera_text::{SegmentMode, Segmenter};

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    default: Vec<String>,
    search: Vec<String>,
    no_hmm: Vec<String>,
    all: Vec<String>,
}

#[test]
fn matches_python_jieba_fixtures() {
    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/jieba_cuts.json")).unwrap();
    let seg = Segmenter::new();
    for c in cases {
        assert_eq!(seg.cut(&c.text), c.default, "default: {:?}", c.text);
        assert_eq!(seg.cut_mode(&c.text, SegmentMode::Search, true), c.search, "search: {:?}", c.text);
        assert_eq!(seg.cut_with(&c.text, false), c.no_hmm, "no hmm: {:?}", c.text);
        assert_eq!(seg.cut_all(&c.text), c.all, "full: {:?}", c.text);
    }
}

/// Mixed Chinese prose with punctuation, numbers, Latin words and unknown names.
const PROSE: &str = "据新华社报道，2024年第一季度，我国国内生产总值同比增长5.3%。\
专家表示，随着各项政策措施持续发力，经济回升向好态势进一步巩固。\
张三丰和李四光在Tsinghua University讨论了GPT-4与BERT的区别，\
他们认为深度学习（Deep Learning）仍有很大潜力。\
“床前明月光，疑是地上霜。举头望明月，低头思故乡。”\
小区里的王阿姨每天早上六点半准时去菜市场买菜，顺便给孙子带一个肉包子。\
这部电影的导演叫做欧阳娜娜，拍摄于浙江横店影视城。";

#[test]
fn matches_jieba_rs_on_prose() {
    let ours = Segmenter::new();
    let reference = Jieba::new();
    for line in PROSE.split('。') {
        assert_eq!(ours.cut(line), reference.cut(line, true), "default: {line}");
        assert_eq!(ours.cut_with(line, false), reference.cut(line, false), "no hmm: {line}");
        assert_eq!(
            ours.cut_mode(line, SegmentMode::Search, true),
            reference.cut_for_search(line, true),
            "search: {line}"
        );
    }
}

#[test]
fn user_words_are_kept_whole() {
    let mut seg = Segmenter::new();
    assert_ne!(seg.cut("欧阳娜娜导演"), ["欧阳娜娜", "导演"]);
    seg.load_user_dict_str("欧阳娜娜 10 nr\n杭研大厦\n", "user.txt").unwrap();
    assert_eq!(seg.cut("欧阳娜娜导演"), ["欧阳娜娜", "导演"]);
    assert_eq!(seg.cut("网易杭研大厦"), ["网易", "杭研大厦"]);
    let err = seg.load_user_dict_str("好词 abc\n", "user.txt").unwrap_err().to_string();
    assert!(err.contains("user.txt") && err.contains("line 1"), "{err}");
}

#[test]
fn matches_jieba_rs_on_weicheng_when_available() {
    let Ok(root) = std::env::var("TESSERA_JIEBA_TEXT") else {
        eprintln!("skipping: set TESSERA_JIEBA_TEXT to a Chinese text file to compare on it");
        return;
    };
    let text = tessera_text::io::read_text(root).unwrap();
    let ours = Segmenter::new();
    let reference = Jieba::new();
    for line in text.lines() {
        assert_eq!(ours.cut(line), reference.cut(line, true), "{line}");
    }
}

mod random_text {
    use std::sync::OnceLock;

    use jieba_rs::Jieba;
    use proptest::prelude::*;
    use tessera_text::{SegmentMode, Segmenter};

    fn pair() -> &'static (Segmenter, Jieba) {
        static P: OnceLock<(Segmenter, Jieba)> = OnceLock::new();
        P.get_or_init(|| (Segmenter::new(), Jieba::new()))
    }

    /// Common characters, dictionary words, digits, Latin, punctuation and spaces mixed up.
    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                "中国",
                "科学院",
                "北京",
                "大学",
                "我们",
                "的",
                "了",
                "是",
                "在",
                "人工智能",
                "研究",
                "长江",
                "大桥",
                "市长",
                "和尚",
                "未",
                "结婚",
                "小明",
                "硕士",
                "毕业",
                "于",
                "计算所",
                "欧阳",
                "娜娜",
            ])
            .prop_map(str::to_string),
            "[\u{4e00}-\u{4fff}]{1,4}",
            "[a-zA-Z0-9.%+#_-]{1,5}",
            "[，。！？、 \t\r\n《》“”]{1,2}",
            "[0-9]{1,3}[.:][0-9]{1,2}%?",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn same_words_as_jieba_rs(s in text()) {
            let (ours, reference) = pair();
            prop_assert_eq!(ours.cut(&s), reference.cut(&s, true));
            prop_assert_eq!(ours.cut_with(&s, false), reference.cut(&s, false));
            prop_assert_eq!(ours.cut_mode(&s, SegmentMode::Search, true), reference.cut_for_search(&s, true));
        }
    }
}
