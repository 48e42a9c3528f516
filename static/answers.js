// One-tap answers to a prompt a rule recognised (prompt.choices): the
// `answer` command with the hash of the screen the choices were read from.
// The server re-reads the screen and refuses with 409 (carrying the fresh
// state) when it changed, so a stale tap never answers the next question.
// The same buttons appear in the overview's cards and, in the terminal
// view, in a bar over the pane that waits. Read tokens get no buttons.

import { promptBlock } from "./overview.js";
import { toast } from "./ui.js";

export class Answers {
  /**
   * states: the PaneStates; attachment; views: the Views; bar: the
   * terminal view's answer bar element.
   */
  constructor({ states, attachment, views, bar }) {
    this.states = states;
    this.attachment = attachment;
    this.views = views;
    this.bar = bar;
    bar.addEventListener("click", (event) => {
      const choice = event.target.closest("button[data-choice]");
      const state = this.states.get(bar.dataset.pane);
      if (choice && state) this.answer(state, Number(choice.dataset.choice), choice);
    });
    // Keep the terminal's focus (and a phone's keyboard) on a tap.
    bar.addEventListener("pointerdown", (event) => {
      if (event.target.closest("button")) event.preventDefault();
    });
    states.listen(() => this.update());
  }

  get allowed() {
    return this.attachment.canWrite;
  }

  /** Send choice `index` of the prompt `state` showed. */
  async answer(state, index, pressed = null) {
    if (!this.allowed || !state.prompt) return;
    if (pressed) pressed.disabled = true;
    try {
      // Any stream will do: `answer` names a pane of any session.
      if (!this.attachment.connected) throw new Error("not connected");
      await this.attachment.connection.send({ type: "answer", pane: state.pane, choice: index, screen: state.screen });
      toast(`Answered “${state.prompt.choices[index]?.label ?? index}” in ${state.pane}.`, { timeout: 2500 });
    } catch (err) {
      if (err.status === 409 && err.data?.state) {
        this.states.apply(err.data.state);
        toast(`Not sent: the screen of ${state.pane} has changed (${err.data.state.state} now). Look again.`, { error: true });
      } else {
        toast(`The answer was not sent: ${err.message}`, { error: true });
      }
    } finally {
      if (pressed) pressed.disabled = false;
    }
  }

  /** The terminal view's bar: the active pane's prompt, when it waits. */
  update() {
    const ws = this.views.workspace;
    const pane = ws.activePaneId();
    const state = pane ? this.states.get(pane) : null;
    const show = Boolean(this.views.view === "terminal" && state?.state === "waiting" && state.prompt
      && this.allowed && state.prompt.choices?.length);
    if (!show) {
      this.bar.hidden = true;
      this.bar.dataset.pane = "";
      return;
    }
    const key = `${state.pane}:${state.version}`;
    if (this.bar.dataset.key === key && !this.bar.hidden) return;
    this.bar.dataset.key = key;
    this.bar.dataset.pane = state.pane;
    this.bar.replaceChildren(promptBlock(state, true));
    this.bar.hidden = false;
  }
}
