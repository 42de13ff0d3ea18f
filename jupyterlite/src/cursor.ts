// Jupyter's cursor positions are counted in Unicode code points (protocol
// 5.2), as Python's strings count; JavaScript's strings count UTF-16 units.
// These convert between the two, so a cell with an emoji before the cursor
// gets the same reply as from the Python kernel.

/** The JavaScript index of code point `cursor` in `text` (clamped to the text). */
export function jsIndex(text: string, cursor: number): number {
  let js = 0;
  for (let cp = 0; cp < cursor && js < text.length; cp++) {
    const unit = text.charCodeAt(js);
    js += unit >= 0xd800 && unit <= 0xdbff && js + 1 < text.length ? 2 : 1;
  }
  return js;
}

/** The code point position of JavaScript index `js` in `text`. */
export function charIndex(text: string, js: number): number {
  let cp = 0;
  for (let i = 0; i < js && i < text.length; cp++) {
    const unit = text.charCodeAt(i);
    i += unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return cp;
}
