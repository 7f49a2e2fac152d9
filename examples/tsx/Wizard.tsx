// A multi-step form wizard: a class component, validation loops, try/catch/finally.
import React from 'react';

type Step = { title: string; fields: string[] };

interface WizardProps {
  steps: Step[];
  submit: (values: Record<string, string>) => Promise<void>;
}

interface WizardState {
  index: number;
  values: Record<string, string>;
  errors: string[];
  busy: boolean;
}

export class Wizard extends React.Component<WizardProps, WizardState> {
  state: WizardState = { index: 0, values: {}, errors: [], busy: false };

  validate(step: Step): string[] {
    const errors: string[] = [];
    for (const field of step.fields) {
      const value = this.state.values[field] ?? '';
      if (value.trim() === '') {
        errors.push(`${field} is required`);
        continue;
      }
      if (value.length > 80) {
        errors.push(`${field} is too long`);
        break;
      }
    }
    return errors;
  }

  async next(): Promise<void> {
    const step = this.props.steps[this.state.index];
    const errors = this.validate(step);
    if (errors.length > 0) {
      this.setState({ errors });
      return;
    }
    if (this.state.index + 1 < this.props.steps.length) {
      this.setState({ index: this.state.index + 1, errors: [] });
      return;
    }
    this.setState({ busy: true });
    try {
      await this.props.submit(this.state.values);
    } catch (err) {
      this.setState({ errors: [String(err)] });
    } finally {
      this.setState({ busy: false });
    }
  }

  render() {
    const step = this.props.steps[this.state.index];
    return (
      <form onSubmit={(e) => { e.preventDefault(); void this.next(); }}>
        <h2>{step.title}</h2>
        {step.fields.map((field) => (
          <input
            key={field}
            value={this.state.values[field] ?? ''}
            onChange={(e) => this.setState({ values: { ...this.state.values, [field]: e.target.value } })}
          />
        ))}
        {this.state.errors.length > 0 ? <ul>{this.state.errors.map((m) => <li key={m}>{m}</li>)}</ul> : null}
        <button type="submit" disabled={this.state.busy}>Next</button>
      </form>
    );
  }
}
