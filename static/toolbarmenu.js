// On a narrow screen the toolbar folds into a menu behind one button, so the
// bar never overflows 360 px (issue 14). The folded buttons are the toolbar's
// own, so Toolbar's click handling runs them unchanged.

export class ToolbarMenu {
  /** button: the menu button; toolbar: the #toolbar element it folds. */
  constructor(button, toolbar) {
    this.button = button;
    this.toolbar = toolbar;
    // Keep the focus (and a phone's keyboard) where it is, as the toolbar does.
    button.addEventListener("pointerdown", (event) => event.preventDefault());
    button.addEventListener("click", () => this.setOpen(!this.isOpen()));
    // A chosen action closes the menu (after Toolbar has seen the click).
    toolbar.addEventListener("click", (event) => {
      if (event.target.closest("button[data-action]")) this.setOpen(false);
    });
    // Capture: the terminal's textarea handles Escape itself.
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isOpen()) this.setOpen(false);
    }, true);
    document.addEventListener("pointerdown", (event) => {
      if (this.isOpen() && !toolbar.contains(event.target) && !button.contains(event.target)) this.setOpen(false);
    });
  }

  isOpen() {
    return this.button.getAttribute("aria-expanded") === "true";
  }

  setOpen(open) {
    this.button.setAttribute("aria-expanded", String(open));
    this.toolbar.classList.toggle("open", open);
  }
}
