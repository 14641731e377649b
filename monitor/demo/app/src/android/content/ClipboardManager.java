package android.content;

public class ClipboardManager {
    public ClipData getPrimaryClip() { return new ClipData("￥AbCd1234￥ 复制这段话打开淘宝"); }
    public CharSequence getText() { return "￥AbCd1234￥ 复制这段话打开淘宝"; }
    public boolean hasPrimaryClip() { return true; }
}
